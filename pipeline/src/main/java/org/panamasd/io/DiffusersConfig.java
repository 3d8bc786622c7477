package org.panamasd.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * A diffusers / transformers {@code config.json} (a scheduler's, a model's): the same field names, each
 * reader supplying the reference's defaults for the fields it reads. Fields a reader does not know are
 * reported as warnings; a field of the wrong type or an invalid value fails naming the field.
 */
public final class DiffusersConfig {
    // Python's json module writes -Infinity / NaN for lambda_min_clipped and friends.
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    private static final System.Logger LOG = System.getLogger(DiffusersConfig.class.getName());

    private final ObjectNode fields;
    private final String source;

    private DiffusersConfig(ObjectNode fields, String source) {
        this.fields = fields;
        this.source = source;
    }

    public static DiffusersConfig read(Path file) {
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (!(node instanceof ObjectNode object)) throw new IllegalArgumentException(file + " is not a JSON object");
            return new DiffusersConfig(object, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config " + file, e);
        }
    }

    public static DiffusersConfig parse(String json) {
        try {
            JsonNode node = JSON.readTree(json);
            if (!(node instanceof ObjectNode object)) throw new IllegalArgumentException("config is not a JSON object");
            return new DiffusersConfig(object, "config");
        } catch (IOException e) {
            throw new IllegalArgumentException("config is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** A config from an already parsed JSON object (e.g. one field of a larger document); {@code source} names it in messages. */
    public static DiffusersConfig of(JsonNode node, String source) {
        if (!(node instanceof ObjectNode object)) throw new IllegalArgumentException(source + " is not a JSON object");
        return new DiffusersConfig(object.deepCopy(), source);
    }

    /** Any JSON file as Python's json module writes it (-Infinity, NaN allowed), read as configs are. */
    public static JsonNode readJson(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    public static DiffusersConfig empty() {
        return new DiffusersConfig(JSON.createObjectNode(), "defaults");
    }

    /** A copy with one field set (value: a String, Number, Boolean or null). */
    public DiffusersConfig with(String field, Object value) {
        ObjectNode copy = fields.deepCopy();
        copy.set(field, JSON.valueToTree(value));
        return new DiffusersConfig(copy, source);
    }

    /** The config as JSON text (as save_config writes it, without the bookkeeping fields it would add). */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(fields);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public String className() {
        return string("_class_name", null);
    }

    public String source() {
        return source;
    }

    private JsonNode present(String field) {
        JsonNode node = fields.get(field);
        return node == null || node.isNull() ? null : node;
    }

    public boolean has(String field) {
        return present(field) != null;
    }

    public int integer(String field, int fallback) {
        JsonNode node = present(field);
        if (node == null) return fallback;
        if (!node.canConvertToInt() || !node.isIntegralNumber()) throw invalid(field, node, "an integer");
        return node.intValue();
    }

    public double number(String field, double fallback) {
        JsonNode node = present(field);
        if (node == null) return fallback;
        if (node.isNumber()) return node.doubleValue();
        // Python's json writes -inf / inf / nan as bare words, which Jackson reads as text
        if (node.isTextual()) {
            switch (node.textValue()) {
                case "-Infinity", "-inf" -> { return Double.NEGATIVE_INFINITY; }
                case "Infinity", "inf" -> { return Double.POSITIVE_INFINITY; }
                default -> { }
            }
        }
        throw invalid(field, node, "a number");
    }

    /** An optional number: null when absent or null. */
    public Double optionalNumber(String field) {
        return present(field) == null ? null : number(field, 0);
    }

    public boolean bool(String field, boolean fallback) {
        JsonNode node = present(field);
        if (node == null) return fallback;
        if (!node.isBoolean()) throw invalid(field, node, "true or false");
        return node.booleanValue();
    }

    public String string(String field, String fallback) {
        JsonNode node = present(field);
        if (node == null) return fallback;
        if (!node.isTextual()) throw invalid(field, node, "a string");
        return node.textValue();
    }

    /** trained_betas when given: a list of numbers. */
    public double[] numbers(String field) {
        JsonNode node = present(field);
        if (node == null) return null;
        if (!node.isArray()) throw invalid(field, node, "a list of numbers");
        double[] values = new double[node.size()];
        for (int i = 0; i < values.length; i++) {
            if (!node.get(i).isNumber()) throw invalid(field, node.get(i), "a number");
            values[i] = node.get(i).doubleValue();
        }
        return values;
    }

    /** A list of integers, or one integer repeated {@code count} times (diffusers' per-block fields). */
    public int[] integers(String field, int count, int fallback) {
        JsonNode node = present(field);
        int[] values = new int[count];
        if (node == null || node.isIntegralNumber()) {
            java.util.Arrays.fill(values, node == null ? fallback : node.intValue());
            return values;
        }
        if (!node.isArray() || node.size() != count) throw invalid(field, node, "an integer or a list of " + count + " integers");
        for (int i = 0; i < count; i++) {
            if (!node.get(i).isIntegralNumber()) throw invalid(field, node, "a list of integers");
            values[i] = node.get(i).intValue();
        }
        return values;
    }

    /** A list of strings. */
    public List<String> strings(String field, List<String> fallback) {
        JsonNode node = present(field);
        if (node == null) return fallback;
        if (!node.isArray()) throw invalid(field, node, "a list of strings");
        List<String> values = new ArrayList<>();
        for (JsonNode n : node) {
            if (!n.isTextual()) throw invalid(field, node, "a list of strings");
            values.add(n.textValue());
        }
        return values;
    }

    /** The length of a list field, or -1 when it is absent or not a list. */
    public int length(String field) {
        JsonNode node = present(field);
        return node != null && node.isArray() ? node.size() : -1;
    }

    public IllegalArgumentException invalid(String field, Object value, String expected) {
        return new IllegalArgumentException(source + ": field '" + field + "' is " + value + ", expected " + expected);
    }

    /** Logs a warning for every field that {@code reader} does not read; returns their names. */
    public List<String> warnUnknown(String reader, Set<String> known) {
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = fields.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!name.startsWith("_") && !known.contains(name)) unknown.add(name);
        }
        if (!unknown.isEmpty())
            LOG.log(System.Logger.Level.WARNING, "{0}: {1} ignores unknown field(s) {2}", source, reader, unknown);
        return unknown;
    }
}
