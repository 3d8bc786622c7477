package org.panamasd.memoryprofile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.panamasd.AllocationRecording;

/**
 * What an allocation recording says about a run: the allocator's bytes over time, its peak, the allocations
 * alive at the peak grouped by module and op (with the shapes of the tensors they hold), the sites that
 * allocated most over the run, the lifetimes of the largest allocations, and the module running at each moment.
 * Everything is replayed from the events: nothing here asks the allocator.
 */
public final class MemoryProfile {
    /** Live allocations at the peak that share a module (and op): bytes, count, and the commonest tensor shapes among them. */
    public record Group(String module, String op, long bytes, long count, List<String> shapes) {}

    /** All allocations of one module and op over the run. */
    public record Site(String module, String op, long totalBytes, long count, long largestBytes) {}

    /** One allocation: when (seconds from the start) and where it was made and freed ({@code freedAt} NaN: never, in the run). */
    public record Lifetime(long bytes, String tensor, String module, String op, double allocatedAt, double freedAt, String freedIn) {}

    /** The block of the model (a band of {@link #blockOf}) running from {@code start} to {@code end} seconds. */
    public record Band(double start, double end, String block) {}

    /** The bytes allocated before the recording began (weights, inputs) that were still held at the peak. */
    public static final String BEFORE = "(before the recording)";
    /** Module of allocations made while no module ran (pipeline code between modules, loading). */
    public static final String NO_MODULE = "(no module)";

    private static final int TIMELINE_POINTS = 2000, SITES = 30, LIFETIMES = 20, SHAPES = 4;

    private final AllocationRecording.Events events;
    private final String[] description;  // per allocation event: "shape dtype" of the tensor the bridge adopted at its address, or null
    private final int[] freedBy;        // per allocation event: the index of its free, or -1
    private long peakBytes;
    private int peakIndex = -1;
    private final List<Group> byModuleOp = new ArrayList<>(), byModule = new ArrayList<>(), byBlock = new ArrayList<>();
    private long liveAtPeak, liveCountAtPeak, beforeAtPeak;
    private final List<Site> sites = new ArrayList<>();
    private final List<Lifetime> biggest = new ArrayList<>();
    private final List<Band> bands = new ArrayList<>();

    private MemoryProfile(AllocationRecording.Events events) {
        this.events = events;
        this.description = new String[events.size()];
        this.freedBy = new int[events.size()];
        java.util.Arrays.fill(freedBy, -1);
    }

    public static MemoryProfile of(AllocationRecording.Events events) {
        MemoryProfile p = new MemoryProfile(events);
        p.replay();
        p.groupPeak();
        p.groupSites();
        p.lifetimes();
        p.findBands();
        return p;
    }

    public AllocationRecording.Events events() {
        return events;
    }

    /** The allocator's highest bytes during the recording (what it held at the start if nothing rose above it). */
    public long peakBytes() {
        return peakBytes;
    }

    /** Seconds from the recording's start to the peak. */
    public double peakSeconds() {
        return peakIndex < 0 ? 0 : seconds(events.timeNanos()[peakIndex]);
    }

    /** The module path running when the peak was reached ("" when none). */
    public String runningAtPeak() {
        return peakIndex < 0 ? "" : events.modulePath(peakIndex);
    }

    public String opAtPeak() {
        return peakIndex < 0 ? "" : events.opName(peakIndex);
    }

    /** Bytes of the allocations alive at the peak, those made before the recording included: equals {@link #peakBytes()}. */
    public long liveAtPeak() {
        return liveAtPeak;
    }

    public List<Group> byModuleOp() {
        return byModuleOp;
    }

    public List<Group> byModule() {
        return byModule;
    }

    public List<Group> byBlock() {
        return byBlock;
    }

    public List<Site> sites() {
        return sites;
    }

    public List<Lifetime> biggest() {
        return biggest;
    }

    public List<Band> bands() {
        return bands;
    }

    /** Bytes that op {@code op} (as the bridge names it) allocated and that were still held at {@code time}. */
    public long liveBytesAt(long time, String op) {
        Map<Long, Long> live = new HashMap<>();
        long[] bytes = events.bytes(), address = events.address(), times = events.timeNanos();
        for (int i = 0; i < bytes.length && times[i] <= time; i++) {
            if (bytes[i] > 0) {
                if (events.opName(i).equals(op)) live.put(address[i], bytes[i]);
                else live.remove(address[i]);  // the address now holds another op's allocation
            } else {
                live.remove(address[i]);
            }
        }
        return live.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Null when every event was recorded; else what the profile then misses (the events stop at the capacity). */
    public String warning() {
        return events.dropped() == 0 ? null
                : events.dropped() + " events past the recording's capacity were dropped: everything after " + String.format("%.2f", seconds(events.timeNanos()[events.size() - 1]))
                        + " s is missing (peak, live set and lifetimes cover the run up to there); raise --max-events";
    }

    double seconds(long nanos) {
        return (nanos - events.startNanos()) / 1e9;
    }

    /** Allocator bytes after each event. */
    long[] bytesAfterEach() {
        long[] after = new long[events.size()];
        long current = events.allocatedAtStart();
        for (int i = 0; i < after.length; i++) after[i] = current += events.bytes()[i];
        return after;
    }

    /** One pass: the peak, each allocation's free, and each allocation's tensor description (from the adoption notes). */
    private void replay() {
        long[] bytes = events.bytes(), address = events.address(), time = events.timeNanos();
        Map<Long, Integer> live = new HashMap<>();
        List<AllocationRecording.TensorNote> notes = events.tensors();
        int note = 0;
        long current = events.allocatedAtStart();
        peakBytes = current;
        for (int i = 0; i < bytes.length; i++) {
            // a tensor adopted before this event describes the allocation live at its address then
            for (; note < notes.size() && notes.get(note).timeNanos() < time[i]; note++) describe(live, notes.get(note));
            current += bytes[i];
            if (bytes[i] > 0) {
                live.put(address[i], i);
            } else {
                Integer made = live.remove(address[i]);
                if (made != null) freedBy[made] = i;
            }
            if (current > peakBytes) {
                peakBytes = current;
                peakIndex = i;
            }
        }
        for (; note < notes.size(); note++) describe(live, notes.get(note));
    }

    private void describe(Map<Long, Integer> live, AllocationRecording.TensorNote note) {
        Integer made = live.get(note.address());
        if (made != null && description[made] == null) description[made] = java.util.Arrays.toString(note.shape()) + " " + note.dtype();
    }

    private String module(int i) {
        String m = events.modulePath(i);
        return m.isEmpty() ? NO_MODULE : m;
    }

    private String op(int i) {
        String o = events.opName(i);
        return o.startsWith("psd_tensor_") ? o.substring("psd_tensor_".length()) : o;
    }

    private void groupPeak() {
        long before = events.allocatedAtStart();
        Map<Long, Integer> live = new HashMap<>();
        long[] bytes = events.bytes(), address = events.address();
        for (int i = 0; i <= peakIndex; i++) {
            if (bytes[i] > 0) live.put(address[i], i);
            else if (live.remove(address[i]) == null) before += bytes[i];  // a free of something allocated before the recording
        }
        Map<String, long[]> modOp = new LinkedHashMap<>(), mod = new LinkedHashMap<>(), block = new LinkedHashMap<>();
        Map<String, Map<String, Long>> shapesModOp = new HashMap<>(), shapesMod = new HashMap<>(), shapesBlock = new HashMap<>();
        for (int i : live.values()) {
            String m = module(i), key = m + "\u0000" + op(i), b = blockOf(m);
            add(modOp, shapesModOp, key, bytes[i], description[i]);
            add(mod, shapesMod, m, bytes[i], description[i]);
            add(block, shapesBlock, b, bytes[i], description[i]);
            liveAtPeak += bytes[i];
            liveCountAtPeak++;
        }
        beforeAtPeak = before;
        liveAtPeak += before;
        if (before != 0) {
            modOp.put(BEFORE + "\u0000", new long[] {before, 0});
            mod.put(BEFORE, new long[] {before, 0});
            block.put(BEFORE, new long[] {before, 0});
        }
        toGroups(modOp, shapesModOp, byModuleOp, true);
        toGroups(mod, shapesMod, byModule, false);
        toGroups(block, shapesBlock, byBlock, false);
    }

    private static void add(Map<String, long[]> totals, Map<String, Map<String, Long>> shapes, String key, long bytes, String description) {
        long[] t = totals.computeIfAbsent(key, k -> new long[2]);
        t[0] += bytes;
        t[1]++;
        shapes.computeIfAbsent(key, k -> new HashMap<>()).merge(description == null ? "(inside an op)" : description, bytes, Long::sum);
    }

    private static void toGroups(Map<String, long[]> totals, Map<String, Map<String, Long>> shapes, List<Group> out, boolean withOp) {
        totals.forEach((key, t) -> {
            String module = withOp ? key.substring(0, key.indexOf('\u0000')) : key;
            String op = withOp ? key.substring(key.indexOf('\u0000') + 1) : "";
            List<String> common = shapes.getOrDefault(key, Map.of()).entrySet().stream()
                    .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(SHAPES).map(Map.Entry::getKey).toList();
            out.add(new Group(module, op, t[0], t[1], common));
        });
        out.sort(Comparator.comparingLong(Group::bytes).reversed());
    }

    private void groupSites() {
        Map<String, long[]> totals = new LinkedHashMap<>();
        long[] bytes = events.bytes();
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] <= 0) continue;
            long[] t = totals.computeIfAbsent(module(i) + "\u0000" + op(i), k -> new long[3]);
            t[0] += bytes[i];
            t[1]++;
            t[2] = Math.max(t[2], bytes[i]);
        }
        totals.forEach((key, t) -> sites.add(new Site(key.substring(0, key.indexOf('\u0000')), key.substring(key.indexOf('\u0000') + 1), t[0], t[1], t[2])));
        sites.sort(Comparator.comparingLong(Site::totalBytes).reversed());
        if (sites.size() > SITES) sites.subList(SITES, sites.size()).clear();
    }

    private void lifetimes() {
        long[] bytes = events.bytes(), time = events.timeNanos();
        List<Integer> allocations = new ArrayList<>();
        for (int i = 0; i < bytes.length; i++) if (bytes[i] > 0) allocations.add(i);
        allocations.sort(Comparator.<Integer>comparingLong(i -> bytes[i]).reversed().thenComparingInt(i -> i));
        for (int i : allocations.subList(0, Math.min(LIFETIMES, allocations.size()))) {
            int f = freedBy[i];
            biggest.add(new Lifetime(bytes[i], description[i] == null ? "(inside an op)" : description[i], module(i), op(i), seconds(time[i]),
                    f < 0 ? Double.NaN : seconds(time[f]), f < 0 ? "" : module(f)));
        }
    }

    private void findBands() {
        long[] time = events.timeNanos();
        String current = null;
        double start = 0;
        for (int i = 0; i < time.length; i++) {
            String b = blockOf(events.modulePath(i));
            if (!b.equals(current)) {
                double t = seconds(time[i]);
                if (current != null && !current.isEmpty()) bands.add(new Band(start, t, current));
                current = b;
                start = t;
            }
        }
        if (current != null && !current.isEmpty()) bands.add(new Band(start, seconds(events.stopNanos()), current));
    }

    /**
     * The block of a module path, the level a plot's bands show: the component and its first level
     * ("unet.down_blocks.1", "unet.mid_block", "vae.decoder.up_blocks.2", "text_encoder.text_model").
     */
    public static String blockOf(String path) {
        if (path.isEmpty() || path.startsWith("(")) return path;
        String[] t = path.split("\\.");
        StringBuilder b = new StringBuilder(t[0]);
        int i = 1;
        if (i < t.length && (t[i].equals("encoder") || t[i].equals("decoder"))) b.append('.').append(t[i++]);  // a VAE's halves
        if (i < t.length) b.append('.').append(t[i++]);
        if (i < t.length && isNumber(t[i])) b.append('.').append(t[i]);
        return b.toString();
    }

    private static boolean isNumber(String s) {
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }

    /** The report as JSON: peak, live set, sites, lifetimes, bands and a timeline of at most 2,000 points. */
    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode n = json.createObjectNode();
        if (events.dropped() > 0) n.put("warning", warning());
        n.put("duration_s", seconds(events.stopNanos())).put("events", events.size()).put("events_dropped", events.dropped())
                .put("tensors_noted", events.tensors().size());
        ObjectNode peak = n.putObject("peak");
        peak.put("allocator_at_start_bytes", events.allocatedAtStart()).put("allocator_peak_bytes", peakBytes).put("t_s", peakSeconds())
                .put("running_module", runningAtPeak()).put("running_op", opAtPeak()).put("live_bytes", liveAtPeak)
                .put("live_allocations", liveCountAtPeak).put("before_recording_bytes", beforeAtPeak);
        groups(peak.putArray("by_block"), byBlock, false);
        groups(peak.putArray("by_module"), byModule, false);
        groups(peak.putArray("by_module_op"), byModuleOp, true);
        ArrayNode s = n.putArray("sites");
        for (Site site : sites)
            s.addObject().put("module", site.module()).put("op", site.op()).put("total_bytes", site.totalBytes()).put("count", site.count())
                    .put("largest_bytes", site.largestBytes());
        ArrayNode l = n.putArray("largest_allocations");
        for (Lifetime t : biggest) {
            ObjectNode o = l.addObject().put("bytes", t.bytes()).put("tensor", t.tensor()).put("module", t.module()).put("op", t.op())
                    .put("allocated_s", t.allocatedAt());
            if (Double.isNaN(t.freedAt())) o.putNull("freed_s");
            else o.put("freed_s", t.freedAt()).put("lived_s", t.freedAt() - t.allocatedAt()).put("freed_in", t.freedIn());
        }
        ArrayNode b = n.putArray("bands");
        for (Band band : bands) b.addObject().put("start_s", band.start()).put("end_s", band.end()).put("block", band.block());
        ObjectNode timeline = n.putObject("timeline");
        ArrayNode ts = timeline.putArray("t_s"), bytes = timeline.putArray("allocator_bytes");
        long[] after = bytesAfterEach();
        double duration = Math.max(1e-9, seconds(events.stopNanos()));
        long bucketMax = events.allocatedAtStart();
        int bucket = 0;
        for (int i = 0; i < after.length; i++) {
            int k = (int) Math.min(TIMELINE_POINTS - 1, seconds(events.timeNanos()[i]) / duration * TIMELINE_POINTS);
            if (k != bucket) {
                ts.add(bucket * duration / TIMELINE_POINTS);
                bytes.add(bucketMax);
                bucket = k;
                bucketMax = after[i];
            } else {
                bucketMax = Math.max(bucketMax, after[i]);
            }
        }
        ts.add(bucket * duration / TIMELINE_POINTS);
        bytes.add(bucketMax);
        return n;
    }

    private static void groups(ArrayNode out, List<Group> groups, boolean withOp) {
        for (Group g : groups) {
            ObjectNode o = out.addObject().put("module", g.module());
            if (withOp) o.put("op", g.op());
            o.put("bytes", g.bytes()).put("count", g.count());
            g.shapes().forEach(o.putArray("shapes")::add);
        }
    }
}
