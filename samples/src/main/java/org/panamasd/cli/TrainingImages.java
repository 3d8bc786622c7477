package org.panamasd.cli;

import org.panamasd.data.FashionMnist;
import picocli.CommandLine.Option;

/** The {@code --images N} option of the trainers that read Fashion-MNIST: the first N training images (default: all), for short runs. */
final class TrainingImages {
    @Option(names = "--images", paramLabel = "N", description = "Train on the first N images only (default: all).")
    Integer count;

    FashionMnist load() {
        return FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, true).first(count != null ? count : Integer.MAX_VALUE);
    }
}
