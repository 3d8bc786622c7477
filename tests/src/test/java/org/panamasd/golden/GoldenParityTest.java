package org.panamasd.golden;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.panamasd.Scope;
import org.panamasd.support.GoldenRoot;
import org.panamasd.support.NativeTest;

/**
 * Parity with the reference implementations: one test per case directory under the golden root
 * ({@link GoldenRoot}), named after the directory and dispatched on the kind in its case.json. A missing root
 * fails where the cases are required (-Pgolden, CI) and is skipped elsewhere. A kind without a check is skipped
 * naming the kind; where the cases are required only the kinds of {@link #NOT_BUILT_YET} may be, and any other
 * fails the run, so a new kind in the golden root cannot go unnoticed.
 */
@Tag("golden")
class GoldenParityTest extends NativeTest {

    /** The checks per case kind. */
    private static final Map<String, CaseCheck> CHECKS = Map.ofEntries(
            Map.entry("scheduler", new SchedulerCaseCheck()),
            Map.entry("unet2d_condition", new UNetCaseCheck()),
            Map.entry("autoencoder_kl", new VaeCaseCheck()),
            Map.entry("clip_tokenizer", new ClipTokenizerCaseCheck()),
            Map.entry("clip_text_model", new ClipTextCaseCheck()),
            Map.entry("stable_diffusion_pipeline", new SdPipelineCaseCheck()),
            Map.entry("stable_diffusion_xl_pipeline", new SdXlPipelineCaseCheck()),
            Map.entry("stable_diffusion_img2img_pipeline", new SdImg2ImgCaseCheck()),
            Map.entry("stable_diffusion_inpaint_pipeline", new SdInpaintCaseCheck()),
            Map.entry("stable_diffusion_lora", new SdLoraCaseCheck()),
            Map.entry("stable_diffusion_single_file", new SdSingleFileCaseCheck()),
            Map.entry("stable_diffusion_controlnet_pipeline", new SdControlNetCaseCheck()),
            Map.entry("dinov2_model", new Dinov2CaseCheck()));

    /** Kinds the golden root holds that no check reads yet, each with the issue that builds it. */
    static final Map<String, String> NOT_BUILT_YET = Map.of();

    @FunctionalInterface
    interface CaseCheck {
        void check(GoldenCase c) throws Exception;
    }

    @TestFactory
    Stream<DynamicTest> cases() throws IOException {
        Path root = GoldenRoot.path();
        if (!Files.isDirectory(root))
            return Stream.of(DynamicTest.dynamicTest("golden root", () -> GoldenRoot.check(root, GoldenRoot.required())));
        List<Path> dirs;
        try (Stream<Path> list = Files.list(root)) {
            dirs = list.filter(d -> Files.isRegularFile(d.resolve("case.json"))).sorted().toList();
        }
        if (dirs.isEmpty())
            return Stream.of(DynamicTest.dynamicTest("golden root", () -> GoldenRoot.missing(root + " holds no case directory", GoldenRoot.required())));
        return dirs.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            GoldenCase c = new GoldenCase(dir);
            CaseCheck check = CHECKS.get(c.kind());
            if (check == null) unchecked(c.kind(), GoldenRoot.required());
            try (Scope scope = Scope.open()) {
                check.check(c);
            }
        }));
    }

    /** A case kind without a check: skipped where it is listed or the cases are optional, else a failure. */
    static void unchecked(String kind, boolean required) {
        String issue = NOT_BUILT_YET.get(kind);
        if (issue != null) Assumptions.abort("case kind '" + kind + "' is not built yet (" + issue + ")");
        if (required)
            throw new AssertionError("case kind '" + kind + "' has no check and is not listed in GoldenParityTest.NOT_BUILT_YET: "
                    + "build its check or list it with the issue that builds it");
        Assumptions.abort("case kind '" + kind + "' is not built yet");
    }
}
