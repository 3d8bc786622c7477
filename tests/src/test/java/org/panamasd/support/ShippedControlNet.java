package org.panamasd.support;

import java.nio.file.Path;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.io.ComponentWriter;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.controlnet.ControlNetModel;

/** A ControlNet of the shipped Turbo student's UNet shape with random weights, written as a diffusers directory (what a fresh clone can test with). */
public final class ShippedControlNet {
    private ShippedControlNet() {}

    public static Path write(Path directory) {
        Path root = Path.of(System.getProperty("panamasd.root", ".."));
        DiffusersConfig unet = DiffusersConfig.read(root.resolve("models/fashion-turbo/unet/config.json"));
        DiffusersConfig config = DiffusersConfig.parse(unet.toJson()).with("_class_name", "ControlNetModel").with("conditioning_embedding_out_channels", new int[] {8, 16});
        try (Scope s = Scope.open(); ControlNetModel model = ControlNetModel.initialize(config, 7)) {
            ComponentWriter.write(directory, "config.json", config.toJson(), "diffusion_pytorch_model.safetensors", model.parameters(), DType.FLOAT32, Map.of());
        }
        return directory;
    }
}
