package org.panamasd.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.io.RuntimeSettings;

/**
 * Scaled-dot-product attention for the models, with the shim's per-shape timed choice between its flash kernels and
 * the math path ({@link Torch#setAttentionChoice}) kept per machine: a small JSON file beside the conv-backend cache
 * ({@code attention-choices-HASH.json}, the same directory and machine hash as {@link ConvBackends}) is put on record
 * before the first call, and rewritten after a call that timed a shape it did not hold. So every process on a machine
 * takes the path the first one timed: the same image for the same seed, process after process (the two paths differ
 * at float rounding), and no shape is timed twice. The directory setting {@code panamasd.conv.cacheDir} /
 * {@code PANAMASD_CONV_CACHE_DIR} = {@code none} keeps the choices in memory only; a file that cannot be read is
 * ignored with a warning and rewritten.
 */
public final class AttentionChoices {
    // the kernels' revision (PSD_ATTENTION_KERNELS) is part of the format: choices timed against older kernels are
    // not taken, the shapes are timed again and the file rewritten
    static final String FORMAT = "panama-sd attention choices 1, kernels " + org.panamasd.internal.panamasd_h.PSD_ATTENTION_KERNELS();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final System.Logger LOG = System.getLogger(AttentionChoices.class.getName());
    private static volatile AttentionChoices current;

    private final Path file;
    private boolean loaded;
    private long onRecord = -1;  // shapes on record when the file was last read or written
    private String lastWarning;

    AttentionChoices(Path file) {
        this.file = file;
    }

    /** This process's, from the conv-backend cache directory's setting. */
    public static AttentionChoices current() {
        AttentionChoices c = current;
        if (c == null) {
            synchronized (AttentionChoices.class) {
                if (current == null) {
                    Path dir = RuntimeSettings.cacheDirectory(ConvBackends.DIR_PROPERTY, ConvBackends.DIR_ENV);
                    current = new AttentionChoices(dir == null ? null : dir.resolve("attention-choices-" + ConvBackends.machineHash() + ".json"));
                }
                c = current;
            }
        }
        return c;
    }

    /** softmax(q k^T scale (+ mask)) v as {@link Functional#scaledDotProductAttention}, the machine's choices on record. */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal) {
        return current().attend(q, k, v, mask, causal);
    }

    /** The same with this file's choices. */
    public Tensor attend(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal) {
        beforeCall();
        Tensor attended = Functional.scaledDotProductAttention(q, k, v, mask, 0, causal, 0);
        afterCall();
        return attended;
    }

    /** The file, or null when the choices stay in memory. */
    public Path file() {
        return file;
    }

    /** The last warning about the file, or null. */
    public String lastWarning() {
        return lastWarning;
    }

    /** Puts the file's choices on record, once. */
    synchronized void beforeCall() {
        if (loaded) return;
        loaded = true;
        if (file != null) load();
        onRecord = Torch.attentionTimings().shapes();
    }

    /** Writes the file when shapes were timed since it was read or written (a downcall that reads one counter). */
    void afterCall() {
        if (file != null && Torch.attentionTimings().shapes() > onRecord) save();
    }

    private void load() {
        try {
            JsonNode root = RuntimeSettings.readJson(file);
            if (root == null) return;
            if (!root.isObject() || !FORMAT.equals(root.path("format").asText()) || !root.path("choices").isArray())
                throw new IOException("not an attention-choice file (format '" + FORMAT + "' expected)");
            List<long[]> rows = new ArrayList<>();
            int skipped = 0;
            for (JsonNode row : root.get("choices")) {
                long[] values = row(row);
                if (values == null) skipped++;
                else rows.add(values);
            }
            Torch.putAttentionChoices(rows.toArray(long[][]::new));
            if (skipped > 0) warn("attention choices " + file + ": ignored " + skipped + " row(s) it could not read");
        } catch (IOException | RuntimeException e) {
            warn("ignoring the attention choices in " + file + ", which cannot be read (" + String.valueOf(e.getMessage()).lines().findFirst().orElse("")
                    + "); shapes will be timed again and the file rewritten");
        }
    }

    /** A row of ten integers whose last is 0 or 1, or null. */
    private static long[] row(JsonNode row) {
        if (!row.isArray() || row.size() != Torch.ATTENTION_ROW) return null;
        long[] values = new long[Torch.ATTENTION_ROW];
        for (int i = 0; i < values.length; i++) {
            if (!row.get(i).canConvertToLong() || !row.get(i).isIntegralNumber()) return null;
            values[i] = row.get(i).asLong();
        }
        long winner = values[values.length - 1];
        return winner == 0 || winner == 1 ? values : null;
    }

    /**
     * Every choice on record, merged over what the file holds now (another process may have added shapes), under a
     * lock on a file beside it, so that two processes saving at once lose neither's rows.
     */
    private synchronized void save() {
        long[][] mine = Torch.attentionChoices();
        Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
        try {
            java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
            try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(lockFile, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE); java.nio.channels.FileLock held = channel.lock()) {
                merge(mine);
            }
        } catch (IOException | RuntimeException e) {
            warn("cannot write the attention choices " + file + " (" + e.getMessage() + "): they stay in memory");
        }
        onRecord = mine.length;
    }

    /** The file's rows (another process's first) and this process's, written back whole. */
    private void merge(long[][] mine) throws IOException {
        Map<String, long[]> rows = new LinkedHashMap<>();
        try {
            JsonNode existing = RuntimeSettings.readJson(file);
            if (existing != null && FORMAT.equals(existing.path("format").asText()) && existing.path("choices").isArray())
                for (JsonNode row : existing.get("choices")) {
                    long[] values = row(row);
                    if (values != null) rows.put(key(values), values);
                }
        } catch (IOException | RuntimeException unreadable) {
            // replaced by what this process knows
        }
        for (long[] values : mine) rows.putIfAbsent(key(values), values);
        ObjectNode root = JSON.createObjectNode().put("format", FORMAT);
        root.put("columns", "dtype (c10 ScalarType), heads, queries, keys, features, value features, causal, threads, kernels (2 AVX-512, 1 AVX2), flash won (1) or the math path (0)");
        ArrayNode choices = root.putArray("choices");
        for (long[] values : rows.values()) {
            ArrayNode row = choices.addArray();
            for (long value : values) row.add(value);
        }
        RuntimeSettings.writeJson(file, root);
    }

    private static String key(long[] values) {
        return Arrays.toString(Arrays.copyOf(values, values.length - 1));
    }

    private void warn(String message) {
        if (message.equals(lastWarning)) return;
        lastWarning = message;
        LOG.log(System.Logger.Level.WARNING, message);
    }
}
