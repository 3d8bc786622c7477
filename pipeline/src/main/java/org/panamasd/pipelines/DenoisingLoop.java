package org.panamasd.pipelines;

import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.NoiseSource;
import org.panamasd.schedulers.Scheduler;

/** The part every Stable Diffusion pipeline shares: the guided denoising loop and the decoding. */
final class DenoisingLoop {

    /** The denoiser at one timestep; {@code input} is [uncond, cond] when guidance is on. */
    @FunctionalInterface
    interface Model {
        Tensor predict(Tensor input, double timestep);
    }

    /**
     * Runs the scheduler over {@code timesteps} from {@code latents}, one scope per step; with guidance the
     * model sees the latents twice and its halves are combined. Returns the final latents in the caller's scope.
     */
    static Tensor run(Scheduler scheduler, Tensor latents, double[] timesteps, GenerationRequest request, Model model, NoiseSource noise,
                      DenoisingListener listener) {
        return run(scheduler, latents, timesteps, request, model, noise, listener, StepHooks.NONE);
    }

    /** What a conditioned run (inpainting) adds around each step; the listener sees the hooks' results. */
    interface StepHooks {
        /** The model's input from the scheduler-scaled latents (guidance-doubled), e.g. with channels appended. */
        default Tensor modelInput(Tensor scaled) {
            return scaled;
        }

        /** The latents after step {@code index} of the run, e.g. with a region reset. */
        default Tensor afterStep(int index, Tensor latents) {
            return latents;
        }

        StepHooks NONE = new StepHooks() {};
    }

    static Tensor run(Scheduler scheduler, Tensor latents, double[] timesteps, GenerationRequest request, Model model, NoiseSource noise,
                      DenoisingListener listener, StepHooks hooks) {
        boolean guidance = ClassifierFreeGuidance.enabled(request.guidanceScale());
        for (int i = 0; i < timesteps.length; i++) {
            double t = timesteps[i];
            try (Scope step = Scope.open()) {
                Tensor input = hooks.modelInput(scheduler.scaleModelInput(guidance ? Tensor.cat(0, latents, latents) : latents, t));
                Tensor output = model.predict(input, t);
                Tensor guided = guidance ? ClassifierFreeGuidance.guideBatched(output, request.guidanceScale(), request.guidanceRescale()) : output;
                Tensor next = hooks.afterStep(i, scheduler.step(guided, t, latents, noise).prevSample());
                listener.onStep(i, t, input, output, guided, next);
                latents = next.moveToParent();
            }
        }
        return latents;
    }

    /** Decodes the latents and maps the image to [0, 1]; everything moves to {@code caller}. */
    static GenerationResult decode(AutoencoderKL vae, Tensor latents, Scope caller) {
        Tensor decoded = vae.decode(vae.unscaleLatents(latents));
        Tensor image = decoded.div(2).add(0.5).clamp(0, 1);
        return new GenerationResult(latents.moveTo(caller), decoded.moveTo(caller), image.moveTo(caller));
    }

    private DenoisingLoop() {}
}
