package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.panamasd.DType;
import org.panamasd.Device;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.io.SafeTensors;
import org.panamasd.schedulers.DDIMScheduler;
import org.panamasd.schedulers.DPMSolverMultistepScheduler;
import org.panamasd.schedulers.EulerAncestralDiscreteScheduler;
import org.panamasd.schedulers.EulerDiscreteScheduler;
import org.panamasd.schedulers.LCMScheduler;
import org.panamasd.schedulers.LMSDiscreteScheduler;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.PNDMScheduler;
import org.panamasd.schedulers.Scheduler;
import org.panamasd.schedulers.Schedulers;
import org.panamasd.schedulers.StepOutput;

/**
 * A scheduler case: the training schedule, set_timesteps for every N, and the whole trajectory with the
 * reference's recorded noise replayed (checking also that noise is drawn on exactly the same steps), then
 * add_noise.
 */
final class SchedulerCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) {
        JsonNode json = c.json();
        DiffusersConfig config = DiffusersConfig.read(c.config());
        String className = json.path("scheduler_class").asText(config.className());
        SafeTensors out = c.outputs(), in = c.inputs();
        double atol = c.atol(), rtol = c.rtol();
        try (Scheduler scheduler = Schedulers.create(className, config)) {
            applyStepOptions(scheduler, json.path("step_kwargs"));

            Compare.values("betas", values(out.tensor("betas")), scheduler.schedule().betas(), atol, rtol);
            Compare.values("alphas_cumprod", values(out.tensor("alphas_cumprod")), scheduler.schedule().alphasCumprod(), atol, rtol);
            if (out.contains("final_alpha_cumprod")) {
                double expected = out.tensor("final_alpha_cumprod").item();
                double got = scheduler instanceof DDIMScheduler d ? d.finalAlphaCumprod() : finalAlphaOf(scheduler);
                Compare.values("final_alpha_cumprod", new double[] {expected}, new double[] {got}, atol, rtol);
            }

            for (JsonNode n : json.path("set_timesteps_N")) {
                int steps = n.asInt();
                scheduler.setTimesteps(steps);
                timesteps("timesteps_N" + steps, out.tensor("timesteps_N" + steps), scheduler.timesteps(), atol, rtol);
                if (out.contains("sigmas_N" + steps))
                    Compare.values("sigmas_N" + steps, values(out.tensor("sigmas_N" + steps)), sigmas(scheduler), atol, rtol);
                if (out.contains("init_noise_sigma_N" + steps))
                    Compare.values("init_noise_sigma_N" + steps, values(out.tensor("init_noise_sigma_N" + steps)),
                            new double[] {scheduler.initNoiseSigma()}, atol, rtol);
            }

            trajectory(scheduler, json.path("trajectory_N").asInt(), in, out, atol, rtol);

            Tensor original = in.tensor("add_noise.original_samples"), noise = in.tensor("add_noise.noise");
            double[] t = values(in.tensor("add_noise.timesteps"));
            Compare.tensors("add_noise.out", out.tensor("add_noise.out"), scheduler.addNoise(original, noise, t), atol, rtol);
        }
    }

    private static void trajectory(Scheduler scheduler, int steps, SafeTensors in, SafeTensors out, double atol, double rtol) {
        scheduler.setTimesteps(steps);
        timesteps("traj.timesteps", out.tensor("traj.timesteps"), scheduler.timesteps(), atol, rtol);
        Compare.values("traj.init_noise_sigma", values(out.tensor("traj.init_noise_sigma")), new double[] {scheduler.initNoiseSigma()}, atol, rtol);
        Tensor x = in.tensor("traj.initial_noise").mul(scheduler.initNoiseSigma());
        Compare.tensors("traj.initial_sample", out.tensor("traj.initial_sample"), x, atol, rtol);
        Tensor modelOutputs = in.tensor("traj.model_output"), recorded = in.tensor("traj.noise");
        long[] drawn = in.tensor("traj.noise_drawn").toLongArray();
        Tensor modelInputs = out.tensor("traj.model_input"), prevSamples = out.tensor("traj.prev_sample");
        Tensor predicted = out.contains("traj.pred_original_sample") ? out.tensor("traj.pred_original_sample") : null;
        double[] timesteps = scheduler.timesteps();
        for (int i = 0; i < timesteps.length; i++) {
            String at = "step " + i + " (t=" + timesteps[i] + ") ";
            Compare.tensors(at + "traj.model_input", modelInputs.get(i), scheduler.scaleModelInput(x, timesteps[i]), atol, rtol);
            Replay replay = new Replay(recorded.get(i));
            StepOutput o = scheduler.step(modelOutputs.get(i), timesteps[i], x, replay);
            if (replay.draws != drawn[i])
                throw new AssertionError(at + "drew noise " + replay.draws + " time(s), the reference " + drawn[i]);
            Compare.tensors(at + "traj.prev_sample", prevSamples.get(i), o.prevSample(), atol, rtol);
            if (predicted != null) Compare.tensors(at + "traj.pred_original_sample", predicted.get(i), o.predOriginalSample(), atol, rtol);
            multistepState(scheduler, i, at, out, atol, rtol);
            x = o.prevSample();
        }
    }

    /** PNDM's transfer arguments and LMS's coefficients at step i, where the case records them. */
    private static void multistepState(Scheduler scheduler, int i, String at, SafeTensors out, double atol, double rtol) {
        if (scheduler instanceof PNDMScheduler p && out.contains("traj.pndm_timestep")) {
            PNDMScheduler.Transfer transfer = p.lastTransfer();
            Compare.exact(at + "traj.pndm_timestep", new long[] {out.tensor("traj.pndm_timestep").toLongArray()[i]}, new long[] {transfer.timestep()});
            Compare.exact(at + "traj.pndm_prev_timestep", new long[] {out.tensor("traj.pndm_prev_timestep").toLongArray()[i]}, new long[] {transfer.prevTimestep()});
            Compare.tensors(at + "traj.pndm_sample", out.tensor("traj.pndm_sample").get(i), transfer.sample(), atol, rtol);
            Compare.tensors(at + "traj.pndm_model_output", out.tensor("traj.pndm_model_output").get(i), transfer.modelOutput(), atol, rtol);
        }
        if (scheduler instanceof LMSDiscreteScheduler l && out.contains("traj.lms_coeffs")) {
            double[] expected = out.tensor("traj.lms_coeffs").get(i).toDoubleArray();
            double[] got = java.util.Arrays.copyOf(l.lastCoefficients(), expected.length);
            Compare.values(at + "traj.lms_coeffs", expected, got, atol, rtol);
        }
    }

    /** Replays the one tensor the reference drew at a step, and counts the draws. */
    private static final class Replay implements NoiseSource {
        private final Tensor noise;
        int draws;

        Replay(Tensor noise) {
            this.noise = noise;
        }

        @Override
        public Tensor next(long[] shape, DType dtype, Device device) {
            draws++;
            if (!java.util.Arrays.equals(shape, noise.shape()))
                throw new AssertionError("noise of shape " + java.util.Arrays.toString(shape) + " asked, recorded " + java.util.Arrays.toString(noise.shape()));
            return noise;
        }
    }

    private static void applyStepOptions(Scheduler scheduler, JsonNode kwargs) {
        for (Map.Entry<String, JsonNode> kw : kwargs.properties()) {
            if (kw.getKey().equals("eta") && scheduler instanceof DDIMScheduler ddim) ddim.eta(kw.getValue().asDouble());
            else if (kw.getKey().equals("order") && scheduler instanceof LMSDiscreteScheduler lms) lms.order(kw.getValue().asInt());
            else throw new AssertionError("step option " + kw.getKey() + " is not supported for " + scheduler.getClass().getSimpleName());
        }
    }

    private static void timesteps(String what, Tensor expected, double[] got, double atol, double rtol) {
        if (expected.dtype() == DType.INT64) {
            long[] g = new long[got.length];
            for (int i = 0; i < got.length; i++) {
                g[i] = (long) got[i];
                if (g[i] != got[i]) throw new AssertionError(what + "[" + i + "]: " + got[i] + " is not an integer");
            }
            Compare.exact(what, expected.toLongArray(), g);
        } else {
            Compare.values(what, values(expected), got, atol, rtol);
        }
    }

    private static double[] sigmas(Scheduler scheduler) {
        return switch (scheduler) {
            case EulerDiscreteScheduler e -> e.sigmas();
            case EulerAncestralDiscreteScheduler e -> e.sigmas();
            case DPMSolverMultistepScheduler d -> d.sigmas();
            case LMSDiscreteScheduler l -> l.sigmas();
            default -> throw new AssertionError(scheduler.getClass().getSimpleName() + " has no sigmas");
        };
    }

    private static double finalAlphaOf(Scheduler scheduler) {
        if (scheduler instanceof LCMScheduler l) return l.finalAlphaCumprod();
        if (scheduler instanceof PNDMScheduler p) return p.finalAlphaCumprod();
        throw new AssertionError(scheduler.getClass().getSimpleName() + " has no final alpha-bar");
    }

    private static double[] values(Tensor t) {
        return t.toDoubleArray();
    }
}
