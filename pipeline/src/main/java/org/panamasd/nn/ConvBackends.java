package org.panamasd.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.panamasd.Tensor;
import org.panamasd.Torch;
import org.panamasd.io.RuntimeSettings;

/**
 * Which {@link ConvBackend} runs an inference convolution of a given shape: the first time a shape (channels,
 * kernel, stride, padding, batch, height, width, the input's layout, dtype, libtorch threads) is seen, every candidate runs on the real
 * input (one warm-up each, then {@value #TIMED_ROUNDS} timed rounds, interleaved), and the fastest by its best time
 * is kept, in memory and in a small JSON file per machine ({@code conv-backends-HASH.json}, HASH over the CPU model
 * and flags, the libtorch version, whether it has oneDNN and any instruction-set cap such as ONEDNN_MAX_CPU_ISA), so later processes skip the timing.
 *
 * <p>Settings ({@link RuntimeSettings}: system property, else environment variable; the file is read and written there too): {@code panamasd.conv.backend} /
 * {@code PANAMASD_CONV_BACKEND} = {@code auto} (default), {@code dense}, {@code prepacked} or {@code channels-last}
 * forces one backend for every shape (no timing, no file); {@code panamasd.conv.cacheDir} /
 * {@code PANAMASD_CONV_CACHE_DIR} = where the file lives (default {@code $XDG_CACHE_HOME/panama-sd} or
 * {@code ~/.cache/panama-sd}; {@code none}: memory only), beside {@link AttentionChoices}' file. A file that cannot be read or parsed is ignored with a
 * warning (and replaced at the next write); one that cannot be written leaves the choices in memory.
 *
 * <p>The shapes a process times are bounded ({@code panamasd.conv.maxShapes} / {@code PANAMASD_CONV_MAX_SHAPES},
 * default {@value #DEFAULT_MAX_SHAPES}): every image size a service's users choose is a new set of shapes, each timed
 * under one lock and written to the file. Past the bound a new shape is not timed, kept or written: it runs the
 * backend chosen most often for the same convolution (channels, kernel, stride, padding, layout, dtype) at other
 * sizes, else dense. The file keeps at most the bound too, this process's timings first, so it holds the shapes
 * in use lately and a later process times new ones again.
 */
public final class ConvBackends {
    public static final String MODE_PROPERTY = "panamasd.conv.backend", MODE_ENV = "PANAMASD_CONV_BACKEND";
    public static final String DIR_PROPERTY = "panamasd.conv.cacheDir", DIR_ENV = "PANAMASD_CONV_CACHE_DIR";
    public static final String MAX_SHAPES_PROPERTY = "panamasd.conv.maxShapes", MAX_SHAPES_ENV = "PANAMASD_CONV_MAX_SHAPES";
    static final int TIMED_ROUNDS = 2;
    static final int DEFAULT_MAX_SHAPES = 256;
    private static final String FORMAT = "panama-sd conv backends 2";  // 2: the input's layout is part of a shape
    private static final System.Logger LOG = System.getLogger(ConvBackends.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static volatile ConvBackends current;
    private static final Object TIMING = new Object();
    private static volatile Boolean mkldnn;

    /**
     * One convolution shape as the choice depends on it. {@code channelsLast}: the input is channels-last (the VAE's
     * activations), where the dense conv already runs NHWC and every backend returns channels-last.
     */
    public record Shape(long in, long out, long kernel, long stride, long padding, long batch, long height, long width, boolean channelsLast,
                        String dtype, int threads) {
        private static final Pattern FORM = Pattern.compile(
                "in=(\\d+) out=(\\d+) k=(\\d+) s=(\\d+) p=(\\d+) b=(\\d+) h=(\\d+) w=(\\d+) (nchw|nhwc) (\\w+) threads=(\\d+)");

        /** The same convolution at any batch and size: what a shape past the bound borrows its backend from. */
        boolean sameConvolution(Shape o) {
            return in == o.in && out == o.out && kernel == o.kernel && stride == o.stride && padding == o.padding && channelsLast == o.channelsLast
                    && dtype.equals(o.dtype) && threads == o.threads;
        }

        /** The form used as a key in the file. */
        public String key() {
            return "in=" + in + " out=" + out + " k=" + kernel + " s=" + stride + " p=" + padding + " b=" + batch + " h=" + height + " w=" + width
                    + " " + (channelsLast ? "nhwc" : "nchw") + " " + dtype + " threads=" + threads;
        }

        static Shape parse(String key) {
            Matcher m = FORM.matcher(key);
            if (!m.matches()) return null;
            return new Shape(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), Long.parseLong(m.group(4)),
                    Long.parseLong(m.group(5)), Long.parseLong(m.group(6)), Long.parseLong(m.group(7)), Long.parseLong(m.group(8)),
                    m.group(9).equals("nhwc"), m.group(10), Integer.parseInt(m.group(11)));
        }
    }

    /** Runs a convolution's candidates on its input (each call's output in the caller's scope). */
    public interface Runner {
        /** The output of {@code backend}; {@code trial} while timing (the output may be discarded). */
        Tensor run(ConvBackend backend, boolean trial);

        /** After this runner's shape was timed: the choice, so the runner can drop what only losers needed. */
        default void decided(ConvBackend choice) {}
    }

    /** What a shape's choice rests on: the backend and each candidate's best time in seconds (empty when forced). */
    public record Choice(ConvBackend backend, Map<ConvBackend, Double> seconds) {}

    private final ConvBackend forced;  // null: auto
    private final Path file;           // null: memory only
    private final int maxShapes;
    private final Map<Shape, Choice> chosen = new ConcurrentHashMap<>();
    private final Map<Shape, CompletableFuture<ConvBackend>> inFlight = new ConcurrentHashMap<>();
    private final EnumMap<ConvBackend, LongAdder> calls = new EnumMap<>(ConvBackend.class);
    private final AtomicLong shapesTimed = new AtomicLong(), timingNanos = new AtomicLong();
    private final java.util.Set<String> warned = ConcurrentHashMap.newKeySet();
    private final java.util.Set<Shape> pastTheBound = ConcurrentHashMap.newKeySet();
    private final java.util.Set<Shape> timedHere = ConcurrentHashMap.newKeySet();  // by this process, at most maxShapes
    private volatile String lastWarning;

    private ConvBackends(ConvBackend forced, Path file, int maxShapes) {
        this.forced = forced;
        this.file = file;
        this.maxShapes = maxShapes;
        for (ConvBackend b : ConvBackend.values()) calls.put(b, new LongAdder());
        if (file != null && forced == null) load();
    }

    /** The process's chooser, from the settings when first asked (or after {@link #reload()}). */
    public static ConvBackends current() {
        ConvBackends c = current;
        if (c == null) {
            synchronized (ConvBackends.class) {
                if (current == null) current = fromSettings();
                c = current;
            }
        }
        return c;
    }

    /** Reads the settings again (and the file), dropping this process's choices in memory; returns the new chooser. */
    public static synchronized ConvBackends reload() {
        current = fromSettings();
        return current;
    }

    private static ConvBackends fromSettings() {
        String mode = RuntimeSettings.get(MODE_PROPERTY, MODE_ENV);
        ConvBackend forced = null;
        if (mode != null && !mode.equalsIgnoreCase("auto")) {
            forced = ConvBackend.byLabel(mode);
            if (forced == null)
                throw new IllegalArgumentException(MODE_PROPERTY + " / " + MODE_ENV + " must be auto, dense, prepacked or channels-last, got '" + mode + "'");
        }
        Path cacheDir = RuntimeSettings.cacheDirectory(DIR_PROPERTY, DIR_ENV);
        String max = RuntimeSettings.get(MAX_SHAPES_PROPERTY, MAX_SHAPES_ENV);
        int maxShapes;
        try {
            maxShapes = max == null ? DEFAULT_MAX_SHAPES : Integer.parseInt(max);
        } catch (NumberFormatException e) {
            maxShapes = -1;
        }
        if (maxShapes < 0)
            throw new IllegalArgumentException(MAX_SHAPES_PROPERTY + " / " + MAX_SHAPES_ENV + " must be a non-negative integer, got '" + max + "'");
        return new ConvBackends(forced, cacheDir == null ? null : cacheDir.resolve("conv-backends-" + machineHash() + ".json"), maxShapes);
    }

    /** Whether this libtorch can prepack conv weights (oneDNN); asked once. */
    public static boolean prepackAvailable() {
        Boolean m = mkldnn;
        if (m == null) mkldnn = m = Torch.hasMkldnn();
        return m;
    }

    /** The backend every shape is forced to, or null for the per-shape choice ({@code auto}). */
    public ConvBackend forced() {
        return forced;
    }

    /** The file the choices are kept in, or null when they are kept in memory only. */
    public Path file() {
        return file;
    }

    /** The choice made for {@code shape} (timed here or read from the file), or null. */
    public Choice choice(Shape shape) {
        return chosen.get(shape);
    }

    /** Every choice known to this process, by shape key. */
    public Map<String, Choice> choices() {
        Map<String, Choice> all = new TreeMap<>();
        chosen.forEach((s, c) -> all.put(s.key(), c));
        return all;
    }

    /** Convolutions run by each backend since this chooser was made (the timing runs not counted). */
    public Map<ConvBackend, Long> calls() {
        EnumMap<ConvBackend, Long> counts = new EnumMap<>(ConvBackend.class);
        calls.forEach((b, n) -> counts.put(b, n.sum()));
        return counts;
    }

    /** Shapes timed by this process, and the seconds spent timing them (each timed call's output is used once). */
    public long shapesTimed() {
        return shapesTimed.get();
    }

    public double timingSeconds() {
        return timingNanos.get() / 1e9;
    }

    /** The last warning this chooser logged (a corrupt or unwritable file, a backend that failed), or null. */
    public String lastWarning() {
        return lastWarning;
    }

    /**
     * The convolution's output through the backend chosen for {@code shape} among {@code candidates} (which
     * include {@link ConvBackend#DENSE}), timing them first if the shape is new. Threads that meet a shape being
     * timed wait for its choice, so every call of a shape, the first included, runs the same backend.
     */
    public Tensor run(Shape shape, List<ConvBackend> candidates, Runner runner) {
        if (forced != null) {
            ConvBackend b = candidates.contains(forced) ? forced : ConvBackend.DENSE;
            if (b != forced) warnOnce("forced-" + forced, "conv backend " + forced.label + " is not available for this convolution ("
                    + (forced == ConvBackend.PREPACKED && !prepackAvailable() ? "this libtorch has no oneDNN"
                    : forced == ConvBackend.CHANNELS_LAST ? "its input is channels-last already, which the dense conv runs as such"
                    : "its weights cannot be prepacked") + "): using dense");
            return call(runner, b);
        }
        Choice c = chosen.get(shape);
        if (c != null) return call(runner, candidates.contains(c.backend()) ? c.backend() : ConvBackend.DENSE);
        if (timedHere.size() + inFlight.size() >= maxShapes) {
            ConvBackend b = borrowed(shape);
            return call(runner, candidates.contains(b) ? b : ConvBackend.DENSE);
        }
        CompletableFuture<ConvBackend> mine = new CompletableFuture<>();
        CompletableFuture<ConvBackend> other = inFlight.putIfAbsent(shape, mine);
        if (other != null) {
            ConvBackend b;
            try {
                b = other.join();
            } catch (RuntimeException failed) {
                b = ConvBackend.DENSE;
            }
            return call(runner, candidates.contains(b) ? b : ConvBackend.DENSE);
        }
        try {
            c = chosen.get(shape);  // decided between the first look and taking the shape
            if (c != null) {
                mine.complete(c.backend());
                return call(runner, candidates.contains(c.backend()) ? c.backend() : ConvBackend.DENSE);
            }
            Timed t;
            synchronized (TIMING) {  // one shape timed at a time: candidates racing for the cores would bias the choice
                t = time(candidates, runner);
            }
            chosen.put(shape, t.choice);
            timedHere.add(shape);
            mine.complete(t.choice.backend());
            runner.decided(t.choice.backend());
            save();
            calls.get(t.choice.backend()).increment();
            return t.output;
        } catch (RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(shape, mine);
        }
    }

    /** Shapes past the bound, which ran a borrowed backend untimed. */
    public long shapesPastTheBound() {
        return pastTheBound.size();
    }

    /** For a shape past the bound: the backend chosen most often for the same convolution at other sizes, else dense. */
    private ConvBackend borrowed(Shape shape) {
        if (pastTheBound.size() < maxShapes) pastTheBound.add(shape);  // counted, bounded as well
        warnOnce("bound", "conv backends: " + maxShapes + " shapes timed (" + MAX_SHAPES_PROPERTY + "); new shapes run the backend chosen for the same"
                + " convolution at other sizes, untimed");
        EnumMap<ConvBackend, Integer> votes = new EnumMap<>(ConvBackend.class);
        chosen.forEach((s, c) -> {
            if (s.sameConvolution(shape)) votes.merge(c.backend(), 1, Integer::sum);
        });
        ConvBackend best = ConvBackend.DENSE;
        for (var v : votes.entrySet()) if (v.getValue() > votes.getOrDefault(best, 0)) best = v.getKey();
        return best;
    }

    private Tensor call(Runner runner, ConvBackend b) {
        calls.get(b).increment();
        return runner.run(b, false);
    }

    private record Timed(Choice choice, Tensor output) {}

    /**
     * One warm-up run of each candidate, then TIMED_ROUNDS rounds, each starting with the next candidate; best times.
     * Each trial's output is freed at once and the winner runs once more for the caller's output, so timing holds one
     * output at a time: a shape's first call often comes at a step's peak (a 512x512 VAE decode's first run: allocator
     * peak 0.40 -> 0.39 GiB, RSS 0.88-0.93 -> 0.86-0.88 GiB, for one more call per shape, once per machine).
     */
    private Timed time(List<ConvBackend> candidates, Runner runner) {
        long start = System.nanoTime();
        List<ConvBackend> alive = new ArrayList<>(candidates);
        EnumMap<ConvBackend, Long> best = new EnumMap<>(ConvBackend.class);
        try {
            for (int round = 0; round <= TIMED_ROUNDS; round++) {
                List<ConvBackend> order = new ArrayList<>(alive);
                java.util.Collections.rotate(order, -round);
                for (ConvBackend b : order) {
                    Tensor y;
                    long t0 = System.nanoTime(), dt;
                    try {
                        y = runner.run(b, true);
                        dt = System.nanoTime() - t0;
                    } catch (RuntimeException e) {
                        if (b == ConvBackend.DENSE) throw e;
                        warnOnce("failed-" + b, "conv backend " + b.label + " failed, leaving it out for this shape: " + e.getMessage());
                        alive.remove(b);
                        best.remove(b);
                        continue;
                    }
                    y.close();
                    if (round > 0) best.merge(b, dt, Math::min);
                }
            }
            ConvBackend winner = winner(best);
            EnumMap<ConvBackend, Double> seconds = new EnumMap<>(ConvBackend.class);
            best.forEach((b, ns) -> seconds.put(b, ns / 1e9));
            return new Timed(new Choice(winner, java.util.Collections.unmodifiableMap(seconds)), runner.run(winner, true));
        } finally {
            // the trials' outputs were freed into malloc's heap (below its mmap threshold), which keeps them resident
            // until trimmed: timing is once per shape and machine, so a trim after each is cheap (the pool's blocks
            // stay: the chosen backend's next calls reuse them)
            Torch.trimMalloc();
            shapesTimed.incrementAndGet();
            timingNanos.addAndGet(System.nanoTime() - start);
        }
    }

    /** The backend with the least best time; dense first among equals (dense is always timed). */
    private static ConvBackend winner(EnumMap<ConvBackend, Long> best) {
        ConvBackend winner = ConvBackend.DENSE;
        for (var e : best.entrySet()) if (!best.containsKey(winner) || e.getValue() < best.get(winner)) winner = e.getKey();
        return winner;
    }

    // ------------------------------------------------------------------ the file

    private void load() {
        try {
            JsonNode root = RuntimeSettings.readJson(file);
            if (root == null) return;
            if (!root.isObject() || !FORMAT.equals(root.path("format").asText()) || !root.path("shapes").isObject())
                throw new IOException("not a conv-backend cache (format '" + FORMAT + "' expected)");
            int skipped = 0;
            for (var it = root.get("shapes").fields(); it.hasNext() && chosen.size() < maxShapes; ) {
                var e = it.next();
                Shape shape = Shape.parse(e.getKey());
                ConvBackend b = ConvBackend.byLabel(e.getValue().path("backend").asText(""));
                if (shape == null || b == null) {
                    skipped++;
                    continue;
                }
                EnumMap<ConvBackend, Double> seconds = new EnumMap<>(ConvBackend.class);
                for (var s = e.getValue().path("seconds").fields(); s.hasNext(); ) {
                    var t = s.next();
                    ConvBackend tb = ConvBackend.byLabel(t.getKey());
                    if (tb != null && t.getValue().isNumber()) seconds.put(tb, t.getValue().asDouble());
                }
                chosen.put(shape, new Choice(b, java.util.Collections.unmodifiableMap(seconds)));
            }
            if (skipped > 0) warn("conv backend cache " + file + ": ignored " + skipped + " entr" + (skipped == 1 ? "y" : "ies") + " it could not read");
        } catch (IOException | RuntimeException e) {
            chosen.clear();
            warn("ignoring the conv backend cache " + file + ", which cannot be read (" + String.valueOf(e.getMessage()).lines().findFirst().orElse("")
                    + "); shapes will be timed again and the file rewritten");
        }
    }

    /** Writes every choice known here, merged over what the file holds now (another process may have added shapes). */
    private synchronized void save() {
        if (file == null) return;
        try {
            ObjectNode root = JSON.createObjectNode().put("format", FORMAT);
            root.putObject("machine").put("cpu", cpuModel()).put("libtorch", Torch.version()).put("onednn", prepackAvailable());
            ObjectNode shapes = root.putObject("shapes");
            Map<String, Choice> mine = new TreeMap<>();  // timed here: kept first
            for (Shape shape : timedHere) mine.put(shape.key(), chosen.get(shape));
            Map<String, JsonNode> others = new LinkedHashMap<>();  // the file's and what it was read from, within the bound
            try {
                JsonNode existing = RuntimeSettings.readJson(file);
                if (existing != null && FORMAT.equals(existing.path("format").asText()) && existing.path("shapes").isObject())
                    existing.get("shapes").fields().forEachRemaining(e -> others.put(e.getKey(), e.getValue()));
            } catch (IOException | RuntimeException unreadable) {
                // replaced by what this process knows
            }
            // the file lists the oldest first (each save appends its own): past the bound, the oldest go, not the latest
            List<Map.Entry<String, JsonNode>> kept = others.entrySet().stream().filter(e -> !mine.containsKey(e.getKey())).toList();
            kept = kept.subList(Math.max(0, kept.size() - Math.max(0, maxShapes - mine.size())), kept.size());
            for (var e : kept) shapes.set(e.getKey(), e.getValue());
            for (var e : mine.entrySet()) {
                ObjectNode n = shapes.putObject(e.getKey()).put("backend", e.getValue().backend().label);
                ObjectNode s = n.putObject("seconds");
                e.getValue().seconds().forEach((b, v) -> s.put(b.label, v));
            }
            RuntimeSettings.writeJson(file, root);
        } catch (IOException | RuntimeException e) {
            warnOnce("write", "cannot write the conv backend cache " + file + " (" + e.getMessage() + "): choices stay in memory");
        }
    }

    private void warn(String message) {
        lastWarning = message;
        LOG.log(System.Logger.Level.WARNING, message);
    }

    private void warnOnce(String what, String message) {
        if (warned.add(what)) warn(message);
    }

    // ------------------------------------------------------------------ the machine

    private static String cpuModel() {
        return cpuInfo("model name");
    }

    private static String cpuInfo(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith(field)) return line.substring(line.indexOf(':') + 1).trim();
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    /** 12 hex digits over the CPU model and flags, the libtorch version, whether it has oneDNN and any instruction-set cap. */
    static String machineHash() {
        String caps = CpuFeatures.isaCaps();
        String what = cpuModel() + "\n" + cpuInfo("flags") + "\n" + Torch.version() + "\n" + prepackAvailable() + (caps.isEmpty() ? "" : "\n" + caps);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(what.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            return Integer.toHexString(what.hashCode());
        }
    }

    @Override
    public String toString() {
        return "ConvBackends[" + (forced == null ? "auto" : forced.label) + ", " + (file == null ? "memory only" : file) + ", "
                + chosen.size() + " shapes]";
    }
}
