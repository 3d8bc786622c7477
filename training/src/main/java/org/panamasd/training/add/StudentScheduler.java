package org.panamasd.training.add;

import org.panamasd.io.DiffusersConfig;

/**
 * The scheduler an ADD student ships with. ADD samples in several steps as it trains: the student predicts x_0,
 * which is noised again to the next student timestep with fresh noise (Sauer et al. 2023, sec. 3; SDXL-Turbo
 * ships Euler ancestral). A deterministic DDIM step (eta = 0) would instead re-noise x̂ with the very noise it
 * came from, which with zero terminal SNR is exactly the first step's input. diffusers' LCMScheduler is that
 * ancestral sampler: each step returns x_0 (the consistency scalings are c_out = 1 and c_skip = 0 to within 1e-6
 * from t = 249 on) and draws new noise. Its N steps are spread evenly over {@code original_inference_steps}
 * candidates; with all 1000 training timesteps as candidates, 1, 2 and 4 steps land exactly on the student's
 * trailing timesteps (999; 999, 499; 999, 749, 499, 249) and a user may still ask for any number of steps.
 */
public final class StudentScheduler {
    private StudentScheduler() {}

    /** The teacher's noise schedule and prediction type, as an LCMScheduler whose steps are the student's timesteps. */
    public static DiffusersConfig of(DiffusersConfig teacherScheduler, long[] studentTimesteps) {
        int trainTimesteps = teacherScheduler.integer("num_train_timesteps", 1000);
        int n = studentTimesteps.length, stride = trainTimesteps / n;
        long[] sorted = java.util.Arrays.stream(studentTimesteps).sorted().toArray();
        for (int i = 0; i < n; i++)
            if (trainTimesteps % n != 0 || sorted[i] != (long) (i + 1) * stride - 1)
                throw new IllegalArgumentException("student timesteps " + java.util.Arrays.toString(studentTimesteps) + " are not the " + n
                        + " trailing timesteps of " + trainTimesteps + " (k * " + stride + " - 1): no ancestral scheduler config reproduces them");
        return teacherScheduler.with("_class_name", "LCMScheduler").with("original_inference_steps", trainTimesteps).with("timestep_scaling", 10.0);
    }
}
