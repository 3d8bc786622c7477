package org.panamasd.service;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** A Prometheus histogram: cumulative bucket counts at fixed upper bounds, the sum and the count. Lock-free. */
final class Histogram {
    private final String name;
    private final String help;
    private final double[] bounds;
    private final LongAdder[] counts;
    private final DoubleAdder sum = new DoubleAdder();
    private final LongAdder count = new LongAdder();

    Histogram(String name, String help, double... bounds) {
        this.name = name;
        this.help = help;
        this.bounds = bounds.clone();
        this.counts = new LongAdder[bounds.length];
        for (int i = 0; i < counts.length; i++) counts[i] = new LongAdder();
    }

    void observe(double value) {
        for (int i = 0; i < bounds.length; i++) if (value <= bounds[i]) counts[i].increment();
        sum.add(value);
        count.increment();
    }

    long count() {
        return count.sum();
    }

    double mean() {
        long n = count.sum();
        return n == 0 ? 0 : sum.sum() / n;
    }

    void write(StringBuilder out) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" histogram\n");
        for (int i = 0; i < bounds.length; i++)
            out.append(name).append("_bucket{le=\"").append(PrometheusText.number(bounds[i])).append("\"} ").append(counts[i].sum()).append('\n');
        out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
        out.append(name).append("_sum ").append(PrometheusText.number(sum.sum())).append('\n');
        out.append(name).append("_count ").append(count.sum()).append('\n');
    }
}
