package org.panamasd.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.panamasd.MemoryStats;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class CheckpointsTest extends NativeTest {

    /** A checkpoint with fc.weight (2, 2) = 1..4 and fc.bias (2,) = 5, 6. */
    private static Path checkpoint(Path dir) throws IOException {
        String header = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(json.length).put(json);
        for (int i = 1; i <= 6; i++) buffer.putFloat(i);
        Path f = dir.resolve("model.safetensors");
        Files.write(f, buffer.array());
        return f;
    }

    @Test
    void aModelTakesEveryParameterByKeyAndFreesThemOnClose(@TempDir Path dir) throws IOException {
        Path file = checkpoint(dir);
        long before = MemoryStats.liveTensorCount();
        StateDict[] owner = new StateDict[1];
        Linear layer = Checkpoints.load(file, state -> {
            owner[0] = state;
            return new Linear(state, "fc", 2, 2, true);
        });
        assertEquals(before + 2, MemoryStats.liveTensorCount());
        owner[0].close();
        assertFalse(layer.weight.isOpen());
        assertEquals(before, MemoryStats.liveTensorCount());
    }

    @Test
    void loadingFailsNamingTheKeyAndFreesWhatItLoaded(@TempDir Path dir) throws IOException {
        Path file = checkpoint(dir);
        long before = MemoryStats.liveTensorCount();
        var unused = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(file, state -> state.get("fc.weight", 2, 2)));
        assertTrue(unused.getMessage().contains("does not use") && unused.getMessage().contains("fc.bias"), unused.getMessage());
        var shape = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(file, state -> state.get("fc.weight", 4)));
        assertTrue(shape.getMessage().contains("'fc.weight' has shape [2, 2], the model expects [4]"), shape.getMessage());
        var missing = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(file, state -> state.get("v", 2)));
        assertTrue(missing.getMessage().contains("no parameter 'v'") && missing.getMessage().contains(file.toString()), missing.getMessage());
        assertEquals(before, MemoryStats.liveTensorCount(), "the failed loads freed their tensors");
    }

    @Test
    void parametersOutliveTheScopeTheyWereLoadedIn(@TempDir Path dir) throws IOException {
        Path file = checkpoint(dir);
        try (StateDict state = StateDict.open(file)) {
            Tensor w, b;
            try (Scope loading = Scope.open()) {
                w = state.get("fc.weight", 2, 2);
                b = state.get("fc.bias", 2);
            }
            assertTrue(w.isOpen() && b.isOpen());
            state.checkAllUsed();
            try (Scope use = Scope.open()) {
                assertArrayEquals(new float[] {1, 2, 3, 4}, w.toFloatArray());
                assertArrayEquals(new float[] {5 + 1 + 2, 6 + 3 + 4}, org.panamasd.Functional.linear(Tensor.ones(1, 2), w, b).toFloatArray());
            }
        }
    }
}
