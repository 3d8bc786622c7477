package org.panamasd.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code --name value} options of one command; an unknown or valueless option is an error naming it. */
final class Options {
    private final Map<String, String> values = new LinkedHashMap<>();
    private final String command;

    private Options(String command) {
        this.command = command;
    }

    static Options parse(String command, String[] args, Set<String> known) {
        Options o = new Options(command);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException(command + ": expected an --option, got '" + a + "'");
            String name = a.substring(2);
            if (!known.contains(name)) throw new IllegalArgumentException(command + ": unknown option --" + name + " (known: --" + String.join(", --", new java.util.TreeSet<>(known)) + ")");
            if (i + 1 >= args.length) throw new IllegalArgumentException(command + ": --" + name + " needs a value");
            o.values.put(name, args[++i]);
        }
        return o;
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String string(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    int integer(String name, int fallback) {
        return parsed(name, fallback, Integer::parseInt, "an integer");
    }

    long longValue(String name, long fallback) {
        return parsed(name, fallback, Long::parseLong, "an integer");
    }

    double number(String name, double fallback) {
        return parsed(name, fallback, Double::parseDouble, "a number");
    }

    private <T> T parsed(String name, T fallback, java.util.function.Function<String, T> parse, String kind) {
        String v = values.get(name);
        try {
            return v == null ? fallback : parse.apply(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(command + ": --" + name + " must be " + kind + ", got '" + v + "'");
        }
    }
}
