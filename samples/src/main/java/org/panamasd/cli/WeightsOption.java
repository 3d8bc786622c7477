package org.panamasd.cli;

import org.panamasd.nn.WeightFormat;
import picocli.CommandLine.Option;

/** How the text encoders and the UNet keep their linear and convolution weights (generate, serve, bench-model). */
final class WeightsOption {
    @Option(names = "--weights", paramLabel = "FORMAT", defaultValue = "dense",
            description = "The text encoders' and UNet's linear and convolution weights: dense (in --dtype) or int8 (a scale per "
                    + "output channel: a quarter of float32's memory, dequantized into --dtype for each layer's call; not with --lora) "
                    + "(default: ${DEFAULT-VALUE}).")
    String weights;

    WeightFormat format() {
        return WeightFormat.parse(weights);
    }
}
