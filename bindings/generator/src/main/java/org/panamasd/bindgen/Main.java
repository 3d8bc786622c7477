package org.panamasd.bindgen;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Command line of the generator, with jextract's option names:
 * {@code --output DIR --target-package PKG --header-class-name NAME [-I DIR]... header.h}.
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        Path output = null;
        String targetPackage = null;
        String headerClass = null;
        Path header = null;
        List<String> clangArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--output" -> output = Path.of(args[++i]);
                case "--target-package", "-t" -> targetPackage = args[++i];
                case "--header-class-name" -> headerClass = args[++i];
                case "-I" -> clangArgs.add("-I" + args[++i]);
                case "-D" -> clangArgs.add("-D" + args[++i]);
                default -> {
                    if (args[i].startsWith("-")) throw new IllegalArgumentException("unknown option " + args[i]);
                    header = Path.of(args[i]);
                }
            }
        }
        if (output == null || targetPackage == null || header == null)
            throw new IllegalArgumentException("usage: --output DIR --target-package PKG [--header-class-name NAME] [-I DIR] header.h");
        if (headerClass == null) headerClass = header.getFileName().toString().replace(".h", "_h");
        Header parsed;
        try {
            parsed = HeaderParser.parse(header.toAbsolutePath(), clangArgs);
        } catch (UnmappableDeclarationException | IllegalArgumentException e) {
            System.err.println("bindgen: " + e.getMessage());
            System.exit(2);
            return;
        }
        var files = new JavaEmitter(parsed, targetPackage, headerClass, header.getFileName().toString()).write(output);
        System.out.printf("bindgen: %s -> %d functions, %d constants, %d structs in %d files under %s%n", header.getFileName(),
                parsed.functions().size(), parsed.constants().size(), parsed.structs().size(), files.size(), output);
    }

    private Main() {}
}
