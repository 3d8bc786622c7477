package org.panamasd.benchmark;

import org.panamasd.models.ModelSpecs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.DType;
import org.panamasd.Scope;
import org.panamasd.pipelines.GenerationRequest;
import org.panamasd.pipelines.StableDiffusionPipeline;
import org.panamasd.pipelines.StableDiffusionXLPipeline;
import org.panamasd.schedulers.PNDMScheduler;
import org.panamasd.support.NativeTest;

/**
 * bench-model end to end on the tiny models: the directory it writes is a diffusers directory that the pipelines
 * load and generate from, and its JSON report has every field, with consistent values.
 */
class BenchModelTest extends NativeTest {
    private static final Path TOKENIZER = Path.of(System.getProperty("panamasd.root", "..")).resolve("models/fashion-teacher/tokenizer");
    private static final BenchSettings SETTINGS = new BenchSettings(4, 2, 1, 2, 2, 1, true);

    @TempDir
    Path cache;

    @Test
    void writesALoadableSdDirectoryAndReportsEveryPart() throws Exception {
        Path dir = BenchmarkDirectory.ensure(ModelSpecs.TINY, cache, DType.FLOAT16, TOKENIZER);
        assertEquals("PNDMScheduler", new ObjectMapper().readTree(dir.resolve("scheduler/scheduler_config.json").toFile()).get("_class_name").asText());
        try (Scope s = Scope.open(); StableDiffusionPipeline pipeline = StableDiffusionPipeline.load(dir)) {
            assertTrue(pipeline.scheduler() instanceof PNDMScheduler, pipeline.scheduler().getClass().getName());
            var image = pipeline.generate(GenerationRequest.of("a photo of a boot", 2, 7.5, 32, 32, 0)).image();  // PNDM: 2 steps + 1 call
            assertEquals(List.of(1L, 3L, 32L, 32L), java.util.Arrays.stream(image.shape()).boxed().toList());
            assertTrue(Double.isFinite(image.sum().item()));
        }
        long written = Files.getLastModifiedTime(dir.resolve(BenchmarkDirectory.MARKER)).toMillis();
        assertEquals(dir, BenchmarkDirectory.ensure(ModelSpecs.TINY, cache, DType.FLOAT16, TOKENIZER));  // reused, not written again
        assertEquals(written, Files.getLastModifiedTime(dir.resolve(BenchmarkDirectory.MARKER)).toMillis());

        JsonNode report = ModelBenchmark.run("tiny", dir, PartRunner.PARTS, SETTINGS, ModelBenchmark.Isolation.RESET, "float16");
        Path json = cache.resolve("report.json");
        ModelBenchmark.writeJson((com.fasterxml.jackson.databind.node.ObjectNode) report, json);
        report = new ObjectMapper().readTree(json.toFile());  // what a reader of --json gets
        for (String field : List.of("model", "directory", "machine", "settings", "isolation", "flops_counted", "parts")) assertTrue(report.has(field), field);
        for (String field : List.of("cpu", "flags", "cores", "libtorch", "threads", "blas", "malloc_mmap_threshold", "malloc_trim_threshold"))
            assertTrue(report.get("machine").has(field), field);
        assertEquals(PartRunner.PARTS.size(), report.get("parts").size());
        assertTrue(report.get("parts").get(0).get("input").asText().contains("PNDMScheduler"));
        for (JsonNode part : report.get("parts")) {
            if (part.get("part").asText().equals("load")) continue;
            checkTimedPart(part, part.get("part").asText().equals("unet") ? SETTINGS.repeat() * SETTINGS.steps() : SETTINGS.repeat());
        }
        // getrusage's CPU times are accounted by scheduler ticks (4 ms at HZ=250): a tiny part's few milliseconds a call
        // may read 0 s in user mode, so each part's figures are only non-negative, and the parts together must account
        // for the CPU their wall time used (at least one busy thread's worth of a third of it, ticks over ~100 ms of work).
        double cpuSeconds = 0, wallSeconds = 0;
        for (JsonNode part : report.get("parts")) {
            if (part.get("part").asText().equals("load")) continue;
            JsonNode call = part.get("per_timed_call");
            assertTrue(call != null && call.get("user_s").asDouble() >= 0 && call.get("system_s").asDouble() >= 0 && call.get("minor_faults").asDouble() >= 0,
                    "getrusage per timed call: " + call);
            int calls = part.get("seconds").size();
            cpuSeconds += (call.get("user_s").asDouble() + call.get("system_s").asDouble()) * calls;
            for (JsonNode s : part.get("seconds")) wallSeconds += s.asDouble();
        }
        System.out.printf("timed calls: %.3f s wall, %.3f s CPU (getrusage)%n", wallSeconds, cpuSeconds);
        assertTrue(cpuSeconds >= wallSeconds / 3 - 0.02, "getrusage: " + cpuSeconds + " s of CPU over " + wallSeconds + " s of timed calls");
        if (report.get("machine").has("fma_peak_gflops_per_s")) {  // a CPU with AVX2 + FMA or AVX-512
            for (JsonNode part : report.get("parts")) {
                if (part.get("part").asText().equals("load")) continue;
                double share = part.get("share_of_fma_peak_best").asDouble();
                assertEquals(part.get("gflops_per_s_best").asDouble() / report.get("machine").get("fma_peak_gflops_per_s").asDouble(), share, 1e-9);
                assertTrue(share > 0 && share < 1.25, part.get("part").asText() + ": " + share + " of the FMA peak");
            }
            assertTrue(ReportTable.format(report).contains("float32 FMA peak, measured"), ReportTable.format(report));
        }
        for (JsonNode part : report.get("parts")) {
            if (part.get("part").asText().equals("load")) continue;
            JsonNode a = part.get("attention_choice");
            assertTrue(a != null && a.get("flash_chosen").asLong() <= a.get("shapes_timed").asLong(), part.toString());
        }
        String compared = ReportTable.comparison(report, report);
        assertTrue(compared.contains("| unet | min_s |") && compared.contains("| 1.000 |") && compared.contains("the same CPU"), compared);
        String table = ReportTable.format(report);
        assertTrue(table.contains("per timed call, unet: user"), table);
        for (String expected : List.of("unet", "vae", "clip", "GFLOP/s", "conv", "attention", "outside ops", "VmHWM")) assertTrue(table.contains(expected), expected);
    }

    private static void checkTimedPart(JsonNode part, int calls) {
        String name = part.get("part").asText();
        assertEquals(calls, part.get("seconds").size(), name);
        double min = part.get("min_s").asDouble(), median = part.get("median_s").asDouble();
        assertTrue(min > 0 && min <= median, name + ": min " + min + ", median " + median);
        assertTrue(part.get("flops").get("total").asLong() > 0, name);
        assertEquals(part.get("flops").get("total").asDouble() / median / 1e9, part.get("gflops_per_s_median").asDouble(), 1e-6, name);
        assertTrue(part.get("rss_peak_bytes").asLong() >= part.get("rss_after_load_bytes").asLong() / 2, name);
        assertTrue(part.get("allocator_peak_bytes").asLong() > 0, name);
        JsonNode families = part.get("profile").get("families");
        double shares = 0;
        for (JsonNode f : families) shares += f.get("share").asDouble();
        assertEquals(1.0, shares, 0.02, name + ": the families and the time outside ops add up to the repeat");
        if (!name.equals("clip")) assertTrue(families.get("conv").get("seconds").asDouble() > 0, name);
        if (!name.equals("vae")) assertTrue(families.get("matmul/linear").get("seconds").asDouble() > 0, name);
    }

    @Test
    void sdxlLayoutLoadsAndRunsInChildProcesses() throws Exception {
        Path dir = BenchmarkDirectory.ensure(ModelSpecs.TINY_XL, cache, DType.FLOAT32, TOKENIZER);
        assertEquals("!", new ObjectMapper().readTree(dir.resolve("tokenizer_2/tokenizer_config.json").toFile()).get("pad_token").asText());
        try (Scope s = Scope.open(); StableDiffusionXLPipeline pipeline = StableDiffusionXLPipeline.load(dir)) {
            var image = pipeline.generate(GenerationRequest.of("a boot", 1, 5.0, 32, 32, 0)).image();
            assertEquals(List.of(1L, 3L, 32L, 32L), java.util.Arrays.stream(image.shape()).boxed().toList());
        }
        // in bfloat16 (--dtype): the child processes load the weights as bfloat16 and say so
        JsonNode report = ModelBenchmark.run("tiny-xl", dir, List.of("unet", "clip"), new BenchSettings(4, 2, 1, 1, 1, 0, false, DType.BFLOAT16),
                ModelBenchmark.Isolation.PROCESS, "float32");
        assertEquals("a child JVM per part", report.get("isolation").asText());
        assertEquals("bfloat16", report.get("settings").get("dtype").asText());
        assertTrue(ReportTable.format(report).contains("computing in bfloat16"));
        assertEquals("unet", report.get("parts").get(0).get("part").asText());
        assertTrue(report.get("parts").get(0).get("input").asText().contains("time_ids"));
        assertTrue(report.get("parts").get(0).get("input").asText().endsWith(", in bfloat16"), report.get("parts").get(0).get("input").asText());
        assertTrue(report.get("parts").get(1).get("input").asText().contains("2 text encoder(s), in bfloat16"));
        assertTrue(report.get("parts").get(0).get("rss_peak_covers").asText().contains("whole process"));
    }
}
