package org.panamasd.benchmark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.panamasd.OpTimes;

/** Op times of a profiled repeat grouped by {@link OpFamily}, with the part of the wall time spent outside timed ops. */
record OpProfile(long wallNanos, Map<OpFamily, Long> familyNanos, Map<String, OpTimes.Stat> ops) {
    static OpProfile of(Map<String, OpTimes.Stat> ops, long wallNanos) {
        Map<OpFamily, Long> families = new EnumMap<>(OpFamily.class);
        for (OpFamily f : OpFamily.values()) families.put(f, 0L);
        ops.forEach((name, stat) -> families.merge(OpFamily.of(name), stat.nanos(), Long::sum));
        return new OpProfile(wallNanos, families, ops);
    }

    long insideOps() {
        return familyNanos.values().stream().mapToLong(Long::longValue).sum();
    }

    ObjectNode toJson(ObjectMapper json, String method) {
        ObjectNode n = json.createObjectNode().put("method", method).put("wall_s", wallNanos / 1e9);
        ObjectNode families = n.putObject("families");
        familyNanos.forEach((f, nanos) -> families.putObject(f.label).put("seconds", nanos / 1e9).put("share", (double) nanos / wallNanos));
        long outside = Math.max(0, wallNanos - insideOps());
        families.putObject("outside ops").put("seconds", outside / 1e9).put("share", (double) outside / wallNanos);
        var list = n.putArray("ops");
        List<Map.Entry<String, OpTimes.Stat>> sorted = ops.entrySet().stream()
                .sorted(Comparator.comparingLong((Map.Entry<String, OpTimes.Stat> e) -> e.getValue().nanos()).reversed()).toList();
        for (var e : sorted)
            list.addObject().put("name", e.getKey()).put("family", OpFamily.of(e.getKey()).label).put("calls", e.getValue().calls())
                    .put("seconds", e.getValue().nanos() / 1e9);
        return n;
    }
}
