package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.Autograd;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.TorchException;
import org.panamasd.support.NativeTest;

/**
 * The convolution backends (dense, oneDNN with a prepacked weight, channels-last) give the dense conv's output;
 * the per-shape choice is timed once, written to its cache file and read back; a corrupt file is ignored with a
 * warning; autograd always takes the plain path.
 */
class ConvBackendsTest extends NativeTest {
    @TempDir
    Path cacheDir;
    private String savedMode, savedDir;

    @BeforeEach
    void pointTheCacheAtATemporaryDirectory() {
        savedMode = System.getProperty(ConvBackends.MODE_PROPERTY);
        savedDir = System.getProperty(ConvBackends.DIR_PROPERTY);
        System.clearProperty(ConvBackends.MODE_PROPERTY);
        System.setProperty(ConvBackends.DIR_PROPERTY, cacheDir.toString());
        ConvBackends.reload();
    }

    @AfterEach
    void restoreTheSettings() {
        restore(ConvBackends.MODE_PROPERTY, savedMode);
        restore(ConvBackends.DIR_PROPERTY, savedDir);
        ConvBackends.reload();
    }

    private static void restore(String property, String value) {
        if (value == null) System.clearProperty(property);
        else System.setProperty(property, value);
    }

    /** in, out, kernel, stride, padding, batch, height, width. */
    private static final long[][] SHAPES = {
            {8, 16, 3, 1, 1, 2, 12, 12},   // a UNet-like 3x3
            {16, 16, 3, 2, 1, 1, 11, 14},  // a downsampler: stride 2, odd and non-square input
            {12, 20, 1, 1, 0, 3, 9, 7},    // a 1x1 projection or shortcut
            {3, 8, 4, 4, 0, 2, 16, 16},    // a patch embedding: kernel = stride
    };

    @Test
    void everyBackendGivesTheDenseConvsOutput() {
        assumeTrue(ConvBackends.prepackAvailable(), "this libtorch has no oneDNN");
        for (long[] s : SHAPES) {
            try (RandomWeights w = new RandomWeights(s[0] * 100 + s[1]); Scope scope = Scope.open(); Generator g = new Generator(3);
                    var off = Autograd.noGrad()) {
                Conv2d conv = new Conv2d(w, "conv", s[0], s[1], s[2], s[3], s[4]);
                conv.bias.copyFrom(Tensor.randn(g, s[1]));  // non-zero, so a backend that dropped it would show
                Tensor x = Tensor.randn(g, s[5], s[0], s[6], s[7]);
                double[] dense = values(conv.forward(x, ConvBackend.DENSE));
                for (ConvBackend b : ConvBackend.values()) {
                    Tensor y = conv.forward(x, b);
                    assertTrue(y.isContiguous(), b + " gives a contiguous NCHW output");
                    assertClose(dense, values(y), 1e-4, 1e-4);
                }
                assertClose(dense, values(conv.forward(x)), 1e-4, 1e-4);  // the chosen one
            }
        }
    }

    @Test
    void thePrepackedConvWithoutBiasAndTheShimsChecks() {
        assumeTrue(ConvBackends.prepackAvailable(), "this libtorch has no oneDNN");
        try (Scope scope = Scope.open(); Generator g = new Generator(4); var off = Autograd.noGrad()) {
            Tensor w = Tensor.randn(g, 6, 5, 3, 3), x = Tensor.randn(g, 2, 5, 10, 10);
            Tensor packed = Functional.conv2dPrepack(w, 2, 1);
            assertEquals(List.of(6L, 5L, 3L, 3L), java.util.Arrays.stream(packed.shape()).boxed().toList(), "a packed weight reads as the weight's sizes");
            assertClose(values(Functional.conv2d(x, w, null, 2, 1)), values(Functional.conv2dPrepacked(x, packed, null, 2, 1)), 1e-4, 1e-4);
            // a dense weight is not a packed one
            TorchException notPacked = assertThrows(TorchException.class, () -> Functional.conv2dPrepacked(x, w, null, 2, 1));
            assertEquals(2, notPacked.status());
            // one dtype for input, packed weight and bias: a mismatch is named, not converted
            Tensor half = x.to(org.panamasd.DType.BFLOAT16);
            TorchException mixed = assertThrows(TorchException.class, () -> Functional.conv2dPrepacked(half, packed, null, 2, 1));
            assertEquals(2, mixed.status());
            assertTrue(mixed.getMessage().contains("BFloat16") && mixed.getMessage().contains("one dtype"), mixed.getMessage());
            if (Conv2d.oneDnnBfloat16()) {  // elsewhere libtorch refuses a bfloat16 oneDNN weight itself
                Tensor packedHalf = Functional.conv2dPrepack(w.to(org.panamasd.DType.BFLOAT16), 2, 1);
                Tensor floatBias = Tensor.randn(g, 6);
                TorchException biasMixed = assertThrows(TorchException.class, () -> Functional.conv2dPrepacked(half, packedHalf, floatBias, 2, 1));
                assertTrue(biasMixed.getMessage().contains("one dtype") && biasMixed.getMessage().contains("bias"), biasMixed.getMessage());
            }
            TorchException float16 = assertThrows(TorchException.class, () -> Functional.conv2dPrepack(w.to(org.panamasd.DType.FLOAT16), 2, 1));
            assertTrue(float16.getMessage().contains("float32 or bfloat16"), float16.getMessage());
        }
        // inference only: refused when the input requires grad under grad mode
        try (Scope scope = Scope.open(); Generator g = new Generator(5); var on = Autograd.enableGrad()) {
            Tensor w = Tensor.randn(g, 4, 4, 3, 3), x = Tensor.randn(g, 1, 4, 6, 6).requiresGrad(true);
            Tensor packed = Functional.conv2dPrepack(w, 1, 1);
            TorchException e = assertThrows(TorchException.class, () -> Functional.conv2dPrepacked(x, packed, null, 1, 1));
            assertEquals(2, e.status());
            assertTrue(e.getMessage().contains("inference"), e.getMessage());
        }
    }

    @Test
    void thePackedWeightFollowsInPlaceChangesAndDiesWithTheModel() {
        assumeTrue(ConvBackends.prepackAvailable(), "this libtorch has no oneDNN");
        long before = MemoryStats.liveTensorCount();
        RandomWeights w = new RandomWeights(7);
        try (Scope scope = Scope.open(); Generator g = new Generator(8); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "conv", 4, 6, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 4, 8, 8);
            long params = w.scope().liveTensors();
            conv.forward(x, ConvBackend.PREPACKED);
            assertEquals(params + 1, w.scope().liveTensors(), "the packed weight belongs to the parameters' scope");
            conv.forward(x, ConvBackend.PREPACKED);
            assertEquals(params + 1, w.scope().liveTensors(), "made once");
            conv.weight.addInPlace(Tensor.randn(g, 6, 4, 3, 3), 0.5);  // an optimizer step, say
            assertClose(values(conv.forward(x, ConvBackend.DENSE)), values(conv.forward(x, ConvBackend.PREPACKED)), 1e-4, 1e-4);
            assertEquals(params + 1, w.scope().liveTensors(), "the stale packed weight was freed");
            for (long batch = 1; batch <= 4; batch++) {  // new shapes, each chosen by timing: at most one packed weight
                Tensor xb = Tensor.randn(g, batch, 4, 8, 8);
                assertClose(values(conv.forward(xb, ConvBackend.DENSE)), values(conv.forward(xb)), 1e-4, 1e-4);
                assertTrue(w.scope().liveTensors() <= params + 1, "packed weights: " + (w.scope().liveTensors() - params));
            }
        } finally {
            w.close();
        }
        assertEquals(before, MemoryStats.liveTensorCount(), "closing the model frees its packed weights");
    }

    @Test
    void onlyAWeightThatCanLeaveMemoryIsPrepackedByTheTimedChoice() {
        assumeTrue(ConvBackends.prepackAvailable(), "this libtorch has no oneDNN");
        Path file = cacheDir.resolve("convs.safetensors");
        try (Scope scope = Scope.open(); Generator g = new Generator(30)) {
            org.panamasd.io.SafeTensorsWriter.write(Map.of("mapped.weight", Tensor.randn(g, 8, 8, 3, 3), "mapped.bias", Tensor.randn(g, 8),
                    "converted.weight", Tensor.randn(g, 8, 8, 3, 3).to(org.panamasd.DType.FLOAT16), "converted.bias", Tensor.randn(g, 8)), null, file);
        }
        ConvBackends backends = ConvBackends.current();
        try (StateDict state = StateDict.open(file); Scope scope = Scope.open(); Generator g = new Generator(31)) {
            // loaded as a model loads (outside inference mode, whose tensors have no version counter to tell a stale pack)
            Conv2d mapped = new Conv2d(state, "mapped", 8, 8, 3, 1, 1), converted = new Conv2d(state, "converted", 8, 8, 3, 1, 1);
            assertTrue(mapped.weight.isExternal(), "a float32 weight is a view of the mapped file");
            assertFalse(converted.weight.isExternal(), "a float16 weight is a float32 copy libtorch allocated");
            try (var off = Autograd.noGrad()) {
                mapped.forward(Tensor.randn(g, 1, 8, 9, 9));
                converted.forward(Tensor.randn(g, 1, 8, 11, 11));
                int threads = org.panamasd.Torch.numThreads();
                var fromFile = backends.choice(new ConvBackends.Shape(8, 8, 3, 1, 1, 1, 9, 9, false, "float32", threads));
                var copied = backends.choice(new ConvBackends.Shape(8, 8, 3, 1, 1, 1, 11, 11, false, "float32", threads));
                assertTrue(fromFile.seconds().containsKey(ConvBackend.PREPACKED), "the mapped weight's pages can go: packing it is a candidate " + fromFile);
                assertFalse(copied.seconds().containsKey(ConvBackend.PREPACKED), "a packed copy would stay beside the allocated one: not timed " + copied);
                assertTrue(copied.seconds().containsKey(ConvBackend.DENSE) && copied.seconds().containsKey(ConvBackend.CHANNELS_LAST), copied.toString());
            }
        }
    }

    @Test
    void bfloat16ConvolutionsRunEveryBackendAndAreTimedApartFromFloat32() {
        assumeTrue(ConvBackends.prepackAvailable(), "this libtorch has no oneDNN");
        assumeTrue(Conv2d.oneDnnBfloat16(), "oneDNN takes bfloat16 convolutions only with AVX-512 BW, VL and DQ; this CPU has " + CpuFeatures.current().flags());
        Path file = cacheDir.resolve("bfloat16-convs.safetensors");
        try (Scope scope = Scope.open(); Generator g = new Generator(40)) {
            org.panamasd.io.SafeTensorsWriter.write(Map.of("conv.weight", Tensor.randn(g, 16, 8, 3, 3).to(org.panamasd.DType.BFLOAT16),
                    "conv.bias", Tensor.randn(g, 16).to(org.panamasd.DType.BFLOAT16)), null, file);
        }
        ConvBackends backends = ConvBackends.current();
        try (StateDict state = StateDict.open(file, org.panamasd.Device.CPU, org.panamasd.DType.BFLOAT16); Scope scope = Scope.open();
                Generator g = new Generator(41)) {
            Conv2d conv = new Conv2d(state, "conv", 8, 16, 3, 1, 1);
            assertTrue(conv.weight.isExternal(), "a bfloat16 weight computed in bfloat16 is a view of the mapped file");
            try (var off = Autograd.noGrad()) {
                Tensor x = Tensor.randn(g, 2, 8, 12, 12).to(org.panamasd.DType.BFLOAT16);
                // the reference: float32 arithmetic on the same bfloat16 values, so every backend's own rounding shows
                double[] exact = values(Functional.conv2d(x.to(org.panamasd.DType.FLOAT32), conv.weight.to(org.panamasd.DType.FLOAT32),
                        conv.bias.to(org.panamasd.DType.FLOAT32), 1, 1));
                double scale = java.util.Arrays.stream(exact).map(Math::abs).max().orElseThrow();
                for (ConvBackend b : ConvBackend.values()) {
                    Tensor y = conv.forward(x, b);
                    assertEquals(org.panamasd.DType.BFLOAT16, y.dtype(), b.label);
                    assertTrue(y.isContiguous(), b + " gives a contiguous NCHW output");
                    assertClose(exact, values(y), scale / 128, 0);  // two bfloat16 roundings of the largest output
                }
                assertClose(exact, values(conv.forward(x)), scale / 128, 0);
                var chosen = backends.choice(new ConvBackends.Shape(8, 16, 3, 1, 1, 2, 12, 12, false, "bfloat16", org.panamasd.Torch.numThreads()));
                assertNotNull(chosen, "a bfloat16 shape is timed under its own dtype");
                assertTrue(chosen.seconds().keySet().containsAll(List.of(ConvBackend.DENSE, ConvBackend.PREPACKED, ConvBackend.CHANNELS_LAST)),
                        chosen.toString());
                assertNull(backends.choice(new ConvBackends.Shape(8, 16, 3, 1, 1, 2, 12, 12, false, "float32", org.panamasd.Torch.numThreads())),
                        "the float32 shape was not timed by a bfloat16 call");
            }
        }
    }

    @Test
    void theChoiceIsTimedOnceWrittenAndReadBackByTheNextProcess() throws Exception {
        ConvBackends first = ConvBackends.current();
        assertNull(first.forced());
        assertTrue(first.file().startsWith(cacheDir), first.file().toString());
        ConvBackends.Shape shape;
        try (RandomWeights w = new RandomWeights(9); Scope scope = Scope.open(); Generator g = new Generator(10); var off = Autograd.inferenceMode()) {
            Conv2d conv = new Conv2d(w, "conv", 8, 8, 3, 1, 1);
            Tensor x = Tensor.randn(g, 2, 8, 10, 10);
            Tensor y = conv.forward(x);
            conv.forward(x);
            assertEquals(1, first.shapesTimed(), "one new shape, timed once");
            shape = new ConvBackends.Shape(8, 8, 3, 1, 1, 2, 10, 10, false, "float32", org.panamasd.Torch.numThreads());
            ConvBackends.Choice choice = first.choice(shape);
            assertNotNull(choice);
            assertTrue(choice.seconds().containsKey(ConvBackend.DENSE) && choice.seconds().containsKey(ConvBackend.CHANNELS_LAST), choice.toString());
            assertEquals(2L, first.calls().get(choice.backend()), "the timing's output is the first call of the choice");
            assertClose(values(conv.forward(x, ConvBackend.DENSE)), values(y), 1e-4, 1e-4);
        }
        assertTrue(Files.isRegularFile(first.file()));
        JsonNode saved = new ObjectMapper().readTree(first.file().toFile());
        JsonNode entry = saved.get("shapes").get(shape.key());
        assertNotNull(entry, saved.toPrettyString());
        assertEquals(first.choice(shape).backend().label, entry.get("backend").asText());

        ConvBackends next = ConvBackends.reload();  // as a later process would start
        assertEquals(first.file(), next.file());
        assertEquals(first.choice(shape).backend(), next.choice(shape).backend(), "read back from the file");
        try (RandomWeights w = new RandomWeights(11); Scope scope = Scope.open(); Generator g = new Generator(12); var off = Autograd.noGrad()) {
            new Conv2d(w, "conv", 8, 8, 3, 1, 1).forward(Tensor.randn(g, 2, 8, 10, 10));
        }
        assertEquals(0, next.shapesTimed(), "no timing for a shape the file knows");
        assertEquals(1L, next.calls().get(next.choice(shape).backend()));
    }

    @Test
    void shapesPastTheBoundAreNeitherTimedNorKeptNorWritten() throws Exception {
        String saved = System.getProperty(ConvBackends.MAX_SHAPES_PROPERTY);
        System.setProperty(ConvBackends.MAX_SHAPES_PROPERTY, "2");
        try {
            ConvBackends bounded = ConvBackends.reload();
            try (RandomWeights w = new RandomWeights(21); Scope scope = Scope.open(); Generator g = new Generator(22); var off = Autograd.noGrad()) {
                Conv2d conv = new Conv2d(w, "conv", 4, 4, 3, 1, 1);
                for (int side = 6; side < 12; side++) {  // six image sizes a service's users might choose
                    Tensor x = Tensor.randn(g, 1, 4, side, side);
                    assertClose(values(conv.forward(x, ConvBackend.DENSE)), values(conv.forward(x)), 1e-4, 1e-4);
                }
            }
            assertEquals(2, bounded.shapesTimed(), "only the first two sizes are timed");
            assertEquals(2, bounded.choices().size());
            assertEquals(2, bounded.shapesPastTheBound());
            assertTrue(bounded.lastWarning().contains("maxShapes"), bounded.lastWarning());
            assertEquals(2, new ObjectMapper().readTree(bounded.file().toFile()).get("shapes").size(), "the file is bounded too");
            ConvBackends later = ConvBackends.reload();
            assertEquals(2, later.choices().size(), "and so is what a later process reads");
            try (RandomWeights w = new RandomWeights(23); Scope scope = Scope.open(); Generator g = new Generator(24); var off = Autograd.noGrad()) {
                new Conv2d(w, "conv", 4, 4, 3, 1, 1).forward(Tensor.randn(g, 1, 4, 13, 13));  // a size new to the file
            }
            assertEquals(1, later.shapesTimed(), "a later process times a new shape again: the bound is per process");
            JsonNode file = new ObjectMapper().readTree(later.file().toFile()).get("shapes");
            assertEquals(2, file.size(), "the file stays at the bound");
            assertTrue(file.toString().contains("h=13 w=13"), "keeping the newest timing: " + file);
            ConvBackends third = ConvBackends.reload();
            try (RandomWeights w = new RandomWeights(25); Scope scope = Scope.open(); Generator g = new Generator(26); var off = Autograd.noGrad()) {
                new Conv2d(w, "conv", 4, 4, 3, 1, 1).forward(Tensor.randn(g, 1, 4, 14, 14));
            }
            file = new ObjectMapper().readTree(third.file().toFile()).get("shapes");
            assertEquals(2, file.size(), "the file stays at the bound");
            assertTrue(file.toString().contains("h=14 w=14") && file.toString().contains("h=13 w=13"),
                    "past the bound the oldest timing goes, the previous process's stays: " + file);
        } finally {
            restore(ConvBackends.MAX_SHAPES_PROPERTY, saved);
        }
    }

    @Test
    void aCorruptCacheFileIsIgnoredWithAWarning() throws Exception {
        Path file = ConvBackends.current().file();
        Files.createDirectories(file.getParent());
        Files.writeString(file, "{\"format\": \"panama-sd conv backends 1\", \"shapes\": {\"in=8 out=8");  // cut short
        ConvBackends backends = ConvBackends.reload();
        assertNotNull(backends.lastWarning());
        assertTrue(backends.lastWarning().contains("ignoring the conv backend cache"), backends.lastWarning());
        try (RandomWeights w = new RandomWeights(13); Scope scope = Scope.open(); Generator g = new Generator(14); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "conv", 4, 4, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 4, 6, 6);
            assertClose(values(conv.forward(x, ConvBackend.DENSE)), values(conv.forward(x)), 1e-4, 1e-4);
        }
        assertEquals(1, backends.shapesTimed());
        JsonNode rewritten = new ObjectMapper().readTree(file.toFile());
        assertEquals(1, rewritten.get("shapes").size(), "the file is whole again, with the new choice");

        // entries it cannot read are skipped, the rest kept
        Files.writeString(file, "{\"format\": \"panama-sd conv backends 2\", \"shapes\": {\"nonsense\": {\"backend\": \"dense\"},"
                + " \"in=1 out=1 k=1 s=1 p=0 b=1 h=1 w=1 nchw float32 threads=1\": {\"backend\": \"warp-drive\"},"
                + " \"in=2 out=2 k=1 s=1 p=0 b=1 h=1 w=1 nhwc float32 threads=1\": {\"backend\": \"channels-last\"}}}");
        ConvBackends partly = ConvBackends.reload();
        assertEquals(1, partly.choices().size());
        assertTrue(partly.lastWarning().contains("ignored 2 entries"), partly.lastWarning());
    }

    @Test
    void aChannelsLastInputGetsAChannelsLastOutputFromEveryBackend() {
        try (RandomWeights w = new RandomWeights(17); Scope scope = Scope.open(); Generator g = new Generator(18); var off = Autograd.noGrad()) {
            Conv2d conv = new Conv2d(w, "conv", 16, 8, 3, 1, 1);
            Tensor x = Tensor.randn(g, 1, 16, 20, 24).contiguous(org.panamasd.MemoryFormat.CHANNELS_LAST);
            Tensor expected = conv.forward(x.contiguous(), ConvBackend.DENSE);
            for (ConvBackend b : ConvBackends.prepackAvailable() ? ConvBackend.values() : new ConvBackend[] {ConvBackend.DENSE, ConvBackend.CHANNELS_LAST}) {
                Tensor y = conv.forward(x, b);
                assertTrue(y.isContiguous(org.panamasd.MemoryFormat.CHANNELS_LAST), b + " keeps channels-last");
                assertClose(values(expected), values(y), 1e-4, 1e-4);
            }
            Tensor chosen = conv.forward(x);
            assertTrue(chosen.isContiguous(org.panamasd.MemoryFormat.CHANNELS_LAST), "the chosen backend keeps channels-last");
        }
    }

    @Test
    void underAutogradThePlainConvRunsAndGradientsFlow() {
        System.setProperty(ConvBackends.MODE_PROPERTY, "prepacked");  // even when forced
        ConvBackends backends = ConvBackends.reload();
        try (RandomWeights w = new RandomWeights(15); Scope scope = Scope.open(); Generator g = new Generator(16)) {
            Conv2d conv = new Conv2d(w, "conv", 4, 5, 3, 1, 1);
            Tensor x = Tensor.randn(g, 2, 4, 6, 6).requiresGrad(true);
            Tensor y = conv.forward(x);
            assertTrue(y.requiresGrad());
            y.sum().backward();
            assertNotNull(x.grad());
            assertNotNull(conv.weight.grad());
            assertNotNull(conv.bias.grad());
            assertTrue(x.grad().abs().sum().item() > 0);
            for (long n : backends.calls().values()) assertEquals(0, n, "no backend call under autograd");
            assertEquals(2, w.scope().liveTensors(), "weight and bias only: no packed weight made");
        }
    }

    @Test
    void aForcedBackendRunsWithoutTiming() {
        for (ConvBackend forced : ConvBackend.values()) {
            if (forced == ConvBackend.PREPACKED && !ConvBackends.prepackAvailable()) continue;
            System.setProperty(ConvBackends.MODE_PROPERTY, forced.label);
            ConvBackends backends = ConvBackends.reload();
            assertEquals(forced, backends.forced());
            try (RandomWeights w = new RandomWeights(17); Scope scope = Scope.open(); Generator g = new Generator(18); var off = Autograd.noGrad()) {
                Conv2d conv = new Conv2d(w, "conv", 4, 4, 3, 1, 1);
                Tensor x = Tensor.randn(g, 1, 4, 6, 6);
                assertClose(values(conv.forward(x, ConvBackend.DENSE)), values(conv.forward(x)), 1e-4, 1e-4);
            }
            if (forced != ConvBackend.DENSE) assertEquals(1L, backends.calls().get(forced), forced.label);  // dense: the plain path, uncounted
            assertEquals(0, backends.shapesTimed());
            assertFalse(Files.exists(backends.file()), "a forced backend writes no choices");
        }
        System.setProperty(ConvBackends.MODE_PROPERTY, "fastest-please");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, ConvBackends::reload);
        assertTrue(bad.getMessage().contains("auto, dense, prepacked or channels-last"), bad.getMessage());
    }

    @Test
    void threadsMeetingANewShapeShareOneTimingAndOneChoice() throws Exception {
        ConvBackends backends = ConvBackends.current();
        try (RandomWeights w = new RandomWeights(19)) {
            Conv2d conv = new Conv2d(w, "conv", 16, 16, 3, 1, 1);
            Tensor x;
            Scope inputs = Scope.detached();
            try (Scope s = Scope.open(); Generator g = new Generator(20)) {
                x = Tensor.randn(g, 2, 16, 12, 12).moveTo(inputs);
            }
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<double[]>> results = new ArrayList<>();
                for (int t = 0; t < 3; t++)
                    results.add(pool.submit(() -> {
                        try (Scope s = Scope.open(); var off = Autograd.inferenceMode()) {
                            return values(conv.forward(x));
                        }
                    }));
                double[] first = results.get(0).get();
                for (Future<double[]> r : results) assertClose(first, r.get(), 0, 0);  // the same backend: the same bits
            } finally {
                pool.shutdown();
                inputs.close();
            }
        }
        assertEquals(1, backends.shapesTimed());
        Map<ConvBackend, Long> calls = backends.calls();
        assertEquals(3L, calls.values().stream().mapToLong(Long::longValue).sum());
    }
}
