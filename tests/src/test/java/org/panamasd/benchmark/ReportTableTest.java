package org.panamasd.benchmark;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** bench-model --compare against a report of another tool (scripts/pytorch_twin/diffusers_model.py writes bench-model's fields). */
class ReportTableTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode report(String tool, String caps, String settings, double minSeconds, long peakBytes) throws Exception {
        return JSON.readTree("""
                {"tool": "%s", "model": "sd15-float32",
                 "machine": {"cpu": "AMD EPYC", "flags": ["avx2", "fma", "avx512f"]%s},
                 "settings": %s,
                 "parts": [{"part": "unet", "min_s": %s, "median_s": %s, "rss_peak_bytes": %d, "per_timed_call": {"system_s": 0.5, "minor_faults": 1000}}]}
                """.formatted(tool, caps.isEmpty() ? "" : ", \"isa_caps\": \"" + caps + "\"", settings, minSeconds, minSeconds, peakBytes));
    }

    @Test
    void settingsOnlyOneToolHasAreNoDifferenceAndRatiosAreNowOverThen() throws Exception {
        JsonNode now = report("panama-sd bench-model", "", "{\"latent\": 32, \"dtype\": \"float32\", \"vae_tiling\": \"auto\"}", 2.0, 1L << 30);
        JsonNode then = report("diffusers 0.27.2", "", "{\"latent\": 32, \"dtype\": \"float32\"}", 8.0, 4L << 30);
        String table = ReportTable.comparison(now, then);
        assertTrue(table.contains("against the saved run (diffusers 0.27.2)") && table.contains("the same CPU model and extensions"), table);
        assertFalse(table.contains("settings differ"), table);
        assertFalse(table.contains("caps differ"), table);
        assertTrue(table.contains("| unet | min_s | 2.0000 s | 8.0000 s | 0.250 |"), table);
        assertTrue(table.contains("| unet | rss_peak_bytes |") && table.contains("| 0.250 |"), table);

        JsonNode other = report("diffusers 0.27.2", "ATEN_CPU_CAPABILITY=avx2", "{\"latent\": 64, \"dtype\": \"float32\"}", 8.0, 4L << 30);
        table = ReportTable.comparison(now, other);
        assertTrue(table.contains("settings differ: now latent 32 then 64"), table);
        assertTrue(table.contains("instruction-set caps differ: now [], then [ATEN_CPU_CAPABILITY=avx2]"), table);
    }

    @Test
    void numbersAreWrittenTheSameInEveryLocale() throws Exception {
        java.util.Locale saved = java.util.Locale.getDefault();
        java.util.Locale.setDefault(java.util.Locale.GERMANY);  // a decimal comma
        try {
            JsonNode now = report("panama-sd bench-model", "", "{\"latent\": 32}", 2.0, 1L << 30);
            String table = ReportTable.comparison(now, report("diffusers 0.27.2", "", "{\"latent\": 32}", 8.0, 4L << 30));
            assertTrue(table.contains("| unet | min_s | 2.0000 s | 8.0000 s | 0.250 |"), table);
            JsonNode loaded = JSON.readTree("""
                    {"model": "sd15", "directory": "d", "isolation": "one process", "flops_counted": "analytically",
                     "machine": {"cpu": "AMD EPYC", "flags": ["avx2"], "cores": 2, "libtorch": "1.13.0", "threads": 2, "java": "25", "blas": "OpenBLAS",
                                 "malloc_mmap_threshold": 0, "malloc_trim_threshold": 0, "counting_allocator": true},
                     "settings": {"latent": 32, "batch": 2, "vae_batch": 1, "warmup": 1, "repeat": 1, "steps": 1},
                     "parts": [{"part": "load", "load_s": 1.5, "rss_after_load_bytes": 1610612736, "rss_peak_bytes": 1610612736, "input": "x", "rss_peak_covers": "the whole process"}]}
                    """);
            String formatted = ReportTable.format(loaded);
            assertTrue(formatted.contains(" 1.50 ") && formatted.contains("1.50 GiB"), formatted);
        } finally {
            java.util.Locale.setDefault(saved);
        }
    }

    @Test
    void theReportStatesTheCapsItRanUnder() throws Exception {
        JsonNode capped = JSON.readTree("""
                {"model": "sd15", "directory": "d", "isolation": "one process", "flops_counted": "analytically",
                 "machine": {"cpu": "AMD EPYC", "flags": ["avx2", "fma", "avx512f"], "isa_caps": "ATEN_CPU_CAPABILITY=avx2", "cores": 2, "libtorch": "1.13.0",
                             "threads": 2, "java": "25", "blas": "OpenBLAS", "malloc_mmap_threshold": 0, "malloc_trim_threshold": 0, "counting_allocator": true},
                 "settings": {"latent": 32, "batch": 2, "vae_batch": 1, "warmup": 1, "repeat": 1, "steps": 1},
                 "parts": []}
                """);
        String table = ReportTable.format(capped);
        assertTrue(table.contains("machine: AMD EPYC (avx2,fma,avx512f; capped: ATEN_CPU_CAPABILITY=avx2), 2 cores"), table);
    }
}
