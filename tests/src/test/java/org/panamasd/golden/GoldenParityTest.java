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
 * fails where the cases are required (-Pgolden, CI) and is skipped elsewhere; a kind not built yet is reported
 * as skipped, naming the kind.
 */
@Tag("golden")
class GoldenParityTest extends NativeTest {

    /** The checks per case kind. */
    private static final Map<String, CaseCheck> CHECKS = Map.of(
            "scheduler", new SchedulerCaseCheck(),
            "unet2d_condition", new UNetCaseCheck(),
            "autoencoder_kl", new VaeCaseCheck(),
            "clip_tokenizer", new ClipTokenizerCaseCheck(),
            "clip_text_model", new ClipTextCaseCheck(),
            "stable_diffusion_pipeline", new SdPipelineCaseCheck(),
            "stable_diffusion_xl_pipeline", new SdXlPipelineCaseCheck(),
            "stable_diffusion_img2img_pipeline", new SdImg2ImgCaseCheck(),
            "dinov2_model", new Dinov2CaseCheck());

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
            Assumptions.assumeTrue(check != null, "case kind '" + c.kind() + "' is not built yet");
            try (Scope scope = Scope.open()) {
                check.check(c);
            }
        }));
    }
}
