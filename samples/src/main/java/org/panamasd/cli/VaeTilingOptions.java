package org.panamasd.cli;

import org.panamasd.models.vae.VaeTiling;
import picocli.CommandLine.Option;

/** Whether and by which tiles the VAE decodes (generate, bench-model, profile-memory). */
final class VaeTilingOptions {
    @Option(names = "--vae-tiling", paramLabel = "MODE", defaultValue = "auto",
            description = "Decode by tiles: auto (only above 1024x1024 pixels), always (least memory; tiles are normalised on their own, so the image differs slightly) or never (default: ${DEFAULT-VALUE}).")
    String mode;
    @Option(names = "--vae-tile", paramLabel = "PIXELS", defaultValue = "0", description = "The tile's edge in pixels, a multiple of 8 (default: the VAE config's sample_size).")
    int tile;

    VaeTiling.Mode mode() {
        return VaeTiling.mode(mode);
    }
}
