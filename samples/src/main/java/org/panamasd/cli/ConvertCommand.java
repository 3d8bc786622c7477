package org.panamasd.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.panamasd.io.singlefile.SingleFileWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** A diffusers SD 1.x directory written as one original-layout file ({@link SingleFileWriter}). */
@Command(name = "convert", sortOptions = false, description = {
        "Writes a diffusers SD 1.x directory as one original-layout .safetensors file (model.diffusion_model.*,",
        "first_stage_model.*, cond_stage_model.transformer.*), as diffusers' convert_diffusers_to_original_stable_diffusion.py:",
        "what single-file programs (stable-diffusion.cpp, A1111) and generate --model FILE load. Values and dtypes unchanged."})
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A diffusers SD 1.x pipeline directory.")
    Path model;
    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The .safetensors file to write (not overwritten if it exists).")
    Path out;

    @Override
    public Integer call() {
        if (Files.exists(out)) throw new IllegalArgumentException("--out " + out + " exists: not overwritten");
        SingleFileWriter.writeSd1(model, out, Map.of());
        spec.commandLine().getOut().println("wrote " + out);
        return 0;
    }
}
