package org.panamasd.architecture;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The floors of the house (docs/architecture.md): bindings, then the inference layer (pipeline), then training
 * and bench beside each other and the service, then the command line. A module may use its own floor and
 * those below it, never one above or beside it, so a service's jar carries no trainer and no benchmark.
 * Checked twice: every reference to an {@code org.panamasd} package in a module's sources (imports and fully
 * qualified names alike), and every module's dependencies in its pom.
 */
class ModuleLayeringTest {
    /** What each module may use besides itself. */
    static final Map<String, Set<String>> MAY_USE = new LinkedHashMap<>();
    static {
        MAY_USE.put("bindings", Set.of());
        MAY_USE.put("pipeline", Set.of("bindings"));
        MAY_USE.put("training", Set.of("bindings", "pipeline"));
        MAY_USE.put("bench", Set.of("bindings", "pipeline"));
        MAY_USE.put("service", Set.of("bindings", "pipeline"));
        MAY_USE.put("samples", Set.of("bindings", "pipeline", "training", "bench", "service"));
    }
    private static final Pattern REFERENCE = Pattern.compile("\\borg\\.panamasd\\.([a-z][a-z0-9]*)\\.");
    private static final Pattern DEPENDENCY = Pattern.compile("<artifactId>panama-sd-([a-z]+)</artifactId>");

    private static Path root() {
        return Path.of(System.getProperty("panamasd.root", ".."));
    }

    private static Path sources(String module) {
        return root().resolve(module).resolve("src/main/java/org/panamasd");
    }

    /** Which module holds each package (first segment below org.panamasd, or two for training.* and others that nest). */
    private static Map<String, String> owners() throws IOException {
        Map<String, String> owner = new TreeMap<>();
        for (String module : MAY_USE.keySet()) {
            try (Stream<Path> files = Files.walk(sources(module))) {
                for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                    String pkg = sources(module).relativize(f.getParent()).toString().replace('/', '.');
                    String top = pkg.isEmpty() ? "" : pkg.split("\\.")[0];
                    String previous = owner.putIfAbsent(top, module);
                    if (previous != null && !previous.equals(module))
                        fail("package org.panamasd." + top + " is split between " + previous + " and " + module + " (" + f + ")");
                }
            }
        }
        return owner;
    }

    @Test
    void noSourceReferencesAFloorAboveOrBesideItsOwn() throws IOException {
        Map<String, String> owner = owners();
        assertEquals("pipeline", owner.get("nn"));
        assertEquals("training", owner.get("training"));
        assertEquals("bench", owner.get("benchmark"));
        List<String> crossings = new ArrayList<>();
        int references = 0;
        for (var module : MAY_USE.entrySet()) {
            try (Stream<Path> files = Files.walk(sources(module.getKey()))) {
                for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                    Matcher m = REFERENCE.matcher(Files.readString(f));
                    while (m.find()) {
                        references++;
                        String used = owner.get(m.group(1));
                        if (used == null) continue;  // a class in the root package (org.panamasd.Tensor): bindings, allowed everywhere
                        if (!used.equals(module.getKey()) && !module.getValue().contains(used))
                            crossings.add(root().relativize(f) + " (" + module.getKey() + ") uses org.panamasd." + m.group(1) + " (" + used + ")");
                    }
                }
            }
        }
        assertTrue(references > 500, "the scan saw the sources (" + references + " references)");
        assertTrue(crossings.isEmpty(), "references across a floor the wrong way:\n" + String.join("\n", new TreeSet<>(crossings)));
    }

    /** Each module's README says what it may use, in words the table above must match. */
    @Test
    void eachModulesReadmeSaysWhatItMayUse() throws IOException {
        Pattern mayUse = Pattern.compile("\\*\\*May use:\\*\\* ([^.]+)\\.");
        for (var module : MAY_USE.entrySet()) {
            Path readme = root().resolve(module.getKey()).resolve("README.md");
            Matcher m = mayUse.matcher(Files.readString(readme));
            assertTrue(m.find(), readme + " has no '**May use:** ...' line");
            String said = m.group(1).trim();
            Set<String> expected = module.getValue();
            if (said.equals("every module")) assertEquals(MAY_USE.size() - 1, expected.size(), readme + ": " + said);
            else if (said.equals("no other module of ours")) assertTrue(expected.isEmpty(), readme + ": " + said);
            else assertEquals(new TreeSet<>(expected), new TreeSet<>(List.of(said.split(",\\s*"))), readme + " says " + said);
        }
    }

    @Test
    void noPomDependsOnAFloorAboveOrBesideItsOwn() throws IOException {
        List<String> wrong = new ArrayList<>();
        for (var module : MAY_USE.entrySet()) {
            String pom = Files.readString(root().resolve(module.getKey()).resolve("pom.xml"));
            String dependencies = pom.contains("<dependencies>") ? pom.substring(pom.indexOf("<dependencies>")) : "";
            Matcher m = DEPENDENCY.matcher(dependencies);
            while (m.find()) {
                String used = m.group(1);
                if (used.equals("bindgen")) continue;  // the build-time generator, not a floor
                if (!module.getValue().contains(used)) wrong.add(module.getKey() + "/pom.xml depends on panama-sd-" + used);
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }
}
