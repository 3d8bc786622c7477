package org.panamasd.models;

import java.util.List;
import org.panamasd.io.DiffusersConfig;

/**
 * The configs of a benchmark model, as a diffusers directory would hold them: the UNet, the VAE, the text
 * encoders (the second one, SDXL's, with projection) and the scheduler. {@link ModelSpecs} has the real ones.
 */
public record ModelSpec(String name, boolean xl, String unet, String vae, List<String> textEncoders, String scheduler) {
    public ModelSpec {
        if (textEncoders.size() != (xl ? 2 : 1)) throw new IllegalArgumentException(name + ": " + (xl ? "SDXL has two" : "SD has one") + " text encoder(s)");
    }

    public DiffusersConfig unetConfig() {
        return DiffusersConfig.parse(unet);
    }

    public DiffusersConfig vaeConfig() {
        return DiffusersConfig.parse(vae);
    }

    public DiffusersConfig schedulerConfig() {
        return DiffusersConfig.parse(scheduler);
    }

    /** The text encoders' component directories: text_encoder, and text_encoder_2 for SDXL. */
    public static String textEncoderDirectory(int index) {
        return index == 0 ? "text_encoder" : "text_encoder_" + (index + 1);
    }

    /** The matching tokenizer directory. */
    public static String tokenizerDirectory(int index) {
        return index == 0 ? "tokenizer" : "tokenizer_" + (index + 1);
    }

    /** A fingerprint of every config: a cached directory written from other configs is written again. */
    public String fingerprint() {
        return Integer.toHexString(java.util.Objects.hash(name, xl, unet, vae, textEncoders, scheduler));
    }
}
