package org.panamasd.training;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Figures measured every so many steps of a run, one TSV line per step (the step, then one value per column),
 * and a plot of chosen columns. A resumed run keeps the lines of the steps before its first and drops those it
 * repeats, so the file and the plot cover the whole run.
 */
public final class MetricLog {
    private final Path file;
    private final List<String> columns;

    /** Opens {@code file} with these columns, keeping the lines of steps before {@code firstStep}. */
    public MetricLog(Path file, List<String> columns, long firstStep) {
        this.file = file;
        this.columns = List.copyOf(columns);
        try {
            List<String> kept = new ArrayList<>(List.of("step\t" + String.join("\t", columns)));
            if (Files.isRegularFile(file))
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8))
                    if (!line.startsWith("step") && !line.isBlank() && stepOf(line) < firstStep) kept.add(line);
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.write(file, kept, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private long stepOf(String line) {
        try {
            return Long.parseLong(line.split("\t")[0]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": a line that is not a step's figures: '" + line + "'");
        }
    }

    public void add(long step, double... values) {
        if (values.length != columns.size())
            throw new IllegalArgumentException(values.length + " values for the " + columns.size() + " columns of " + file);
        StringBuilder line = new StringBuilder(Long.toString(step));
        for (double v : values) line.append('\t').append(String.format(Locale.ROOT, "%.5f", v));
        try {
            Files.writeString(file, line.append('\n'), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** The values of {@code column} in the file so far (a resumed run's earlier figures included). */
    public List<Double> values(String column) {
        int i = columns.indexOf(column);
        if (i < 0) throw new IllegalArgumentException(file + " has no column '" + column + "'");
        List<Double> values = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8))
                if (!line.startsWith("step") && !line.isBlank()) values.add(Double.parseDouble(line.split("\t")[i + 1]));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return values;
    }

    /** The chosen columns over the steps, on a linear scale, each labelled by its column's name. */
    public void plot(Path png, String title, List<String> shown) {
        LossCurve curve = new LossCurve(true);
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.startsWith("step") || line.isBlank()) continue;
                String[] f = line.split("\t");
                for (String column : shown) {
                    int i = columns.indexOf(column);
                    if (i < 0) throw new IllegalArgumentException(file + " has no column '" + column + "'");
                    curve.add(column.replace('_', ' '), stepOf(line), Double.parseDouble(f[i + 1]));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        curve.write(png, title);
    }
}
