package org.panamasd.training.add;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.SafeTensors;
import org.panamasd.io.SafeTensorsWriter;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.TimestepSpacing;
import org.panamasd.training.DdimStep;

/**
 * DMD's regression pairs (Yin et al. 2024, "One-step Diffusion with Distribution Matching Distillation", sec.
 * 3.3): noises z, each with the context it is drawn for and the teacher's deterministic sample from it (DDIM,
 * eta 0, {@code teacherSteps} trailing steps from the first timestep of the training grid, classifier-free
 * guidance {@code guidance}). ADD's adversarial and score-distillation terms are mode-seeking: at one step they
 * pull every noise of a class towards a few typical shapes. A student that also maps each z, at that first
 * timestep, to its pair's sample follows the teacher's noise-to-image map, which keeps the teacher's variety;
 * the other terms then sharpen that map instead of replacing it. {@code source} names what made them (the
 * teacher's directory), so a cache of pairs is reused only for the same teacher.
 */
public record RegressionPairs(Tensor noise, Tensor context, Tensor target, long timestep, int teacherSteps, double guidance, String source)
        implements AutoCloseable {

    /** A batch of pairs, in the caller's scope. */
    public record Batch(Tensor noise, Tensor context, Tensor target, long timestep) {}

    public RegressionPairs {
        if (noise.size(0) != context.size(0) || noise.size(0) != target.size(0))
            throw new IllegalArgumentException("regression pairs need as many contexts and targets as noises: " + noise.size(0) + " noises, "
                    + context.size(0) + " contexts, " + target.size(0) + " targets");
        if (!java.util.Arrays.equals(noise.shape(), target.shape()))
            throw new IllegalArgumentException("regression targets " + java.util.Arrays.toString(target.shape()) + " differ in shape from their noises "
                    + java.util.Arrays.toString(noise.shape()));
    }

    public int size() {
        return (int) noise.size(0);
    }

    /**
     * The teacher's DDIM samples from {@code noise} (N, ...) with {@code context} (N, S, d), in chunks of
     * {@code chunk} rows without a graph. {@code unconditional} is the empty prompt's context (1, S, d), needed
     * for guidance above 1. The result's tensors belong to the caller's scope.
     */
    public static RegressionPairs generate(AddTrainer.Denoiser teacher, String source, NoiseSchedule schedule, int teacherSteps, double guidance,
                                           Tensor noise, Tensor context, Tensor unconditional, int chunk) {
        if (teacherSteps < 1) throw new IllegalArgumentException("the teacher needs at least 1 DDIM step, got " + teacherSteps);
        if (chunk < 1) throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        if (guidance > 1 && unconditional == null)
            throw new IllegalArgumentException("guidance " + guidance + " needs the empty prompt's context");
        double[] grid = TimestepSpacing.TRAILING.timesteps(schedule.trainTimesteps(), teacherSteps, 0);
        int n = (int) noise.size(0);
        Tensor[] parts = new Tensor[(n + chunk - 1) / chunk];
        try (var frozen = Autograd.noGrad()) {
            for (int c = 0; c < parts.length; c++) {
                int from = c * chunk, rows = Math.min(chunk, n - from);
                try (Scope s = Scope.open()) {
                    Tensor z = noise.narrow(0, from, rows);
                    Tensor ctx = context.narrow(0, from, rows);
                    Tensor uncond = unconditional == null ? null : unconditional.expand(rows, unconditional.size(1), unconditional.size(2));
                    Tensor x0 = null;
                    for (int i = 0; i < grid.length; i++) {
                        long[] t = filled(rows, (long) grid[i]);
                        long[] next = filled(rows, i + 1 < grid.length ? (long) grid[i + 1] : -1);
                        x0 = AddTrainer.Denoiser.guided(teacher, z, t, ctx, uncond, guidance);
                        if (i + 1 < grid.length) z = DdimStep.step(schedule, z, x0, t, next);
                    }
                    parts[c] = x0.contiguous().moveToParent();
                }
            }
        }
        Tensor target = Tensor.cat(0, parts);
        for (Tensor p : parts) p.close();
        return new RegressionPairs(noise, context, target, (long) grid[0], teacherSteps, guidance, source);
    }

    /** {@code size} pairs drawn uniformly with {@code generator}, copied into the caller's scope. */
    public Batch draw(int size, Generator generator) {
        Tensor idx = Tensor.randint(0, size(), generator, size);
        return new Batch(noise.indexSelect(0, idx), context.indexSelect(0, idx), target.indexSelect(0, idx), timestep);
    }

    /** Writes the pairs (safetensors, with their timestep, steps and guidance as metadata; its directory made if missing); atomic. */
    public void save(Path file) {
        try {
            if (file.toAbsolutePath().getParent() != null) java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot make the directory of " + file, e);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("noise", noise);
        tensors.put("context", context);
        tensors.put("target", target);
        SafeTensorsWriter.write(tensors, Map.of("timestep", Long.toString(timestep), "teacher_steps", Integer.toString(teacherSteps),
                "guidance", Double.toString(guidance), "source", source), file);
    }

    /** Whether these pairs were made by {@code source} with these settings, for noises of this shape (rows aside). */
    public boolean madeBy(String source, int count, int teacherSteps, double guidance, long[] noiseShape) {
        long[] shape = noise.shape();
        return this.source.equals(source) && size() == count && this.teacherSteps == teacherSteps && this.guidance == guidance
                && java.util.Arrays.equals(java.util.Arrays.copyOfRange(shape, 1, shape.length), java.util.Arrays.copyOfRange(noiseShape, 1, noiseShape.length));
    }

    /** Moves the pairs' tensors to the scope enclosing their own. */
    public RegressionPairs moveToParent() {
        noise.moveToParent();
        context.moveToParent();
        target.moveToParent();
        return this;
    }

    /** Frees the pairs' tensors now. */
    @Override
    public void close() {
        noise.close();
        context.close();
        target.close();
    }

    /**
     * Pairs written by {@link #save}, copied into the caller's scope; a file without the three tensors or the
     * metadata (an older file without its source included) fails naming the file and what is missing.
     */
    public static RegressionPairs load(Path file) {
        SafeTensors st = SafeTensors.open(file);
        for (String key : new String[] {"noise", "context", "target"})
            if (!st.contains(key)) throw new IllegalArgumentException(file + ": regression pairs need a tensor '" + key + "', found " + st.keys());
        Map<String, String> meta = st.metadata();
        for (String key : new String[] {"timestep", "teacher_steps", "guidance", "source"})
            if (!meta.containsKey(key)) throw new IllegalArgumentException(file + ": regression pairs need the metadata '" + key + "', found " + meta.keySet());
        long timestep;
        int steps;
        double guidance;
        try {
            timestep = Long.parseLong(meta.get("timestep"));
            steps = Integer.parseInt(meta.get("teacher_steps"));
            guidance = Double.parseDouble(meta.get("guidance"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": regression pairs' metadata is not numeric: " + meta, e);
        }
        try (Scope s = Scope.open()) {  // the mapped views die here; the copies go to the caller's scope
            return new RegressionPairs(st.tensor("noise").copy(), st.tensor("context").copy(), st.tensor("target").copy(), timestep, steps, guidance,
                    meta.get("source")).moveToParent();
        }
    }

    private static long[] filled(int n, long value) {
        long[] a = new long[n];
        java.util.Arrays.fill(a, value);
        return a;
    }
}
