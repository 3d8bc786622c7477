package org.panamasd.training.vae;

import java.util.ArrayList;
import java.util.Map;
import org.panamasd.Functional;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.models.vae.LatentDistribution;
import org.panamasd.optim.Optimizer;

/**
 * Trains an {@link AutoencoderKL} as the latent diffusion paper does (Rombach et al. 2022, sec. 3.1) without
 * the perceptual and adversarial terms: per image, the summed squared reconstruction error of a sample
 * z ~ q(z | x) plus {@code klWeight} times KL(q(z | x) || N(0, I)), averaged over the batch. The small KL
 * weight keeps the latent space near a unit Gaussian without blurring the decoder.
 */
public final class VaeTrainer implements AutoCloseable {
    private final AutoencoderKL vae;
    private final Optimizer optimizer;
    private final double klWeight;

    public record Losses(double reconstruction, double kl) {}

    public VaeTrainer(DiffusersConfig config, double learningRate, double klWeight, long seed) {
        this.vae = AutoencoderKL.initialize(config, seed);
        this.optimizer = Optimizer.adamW(new ArrayList<>(vae.parameters().values()), learningRate, 0.9, 0.999, 1e-8, 0.0, false);
        this.klWeight = klWeight;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    /** One step on images (B, C, H, W) in [-1, 1]; returns the per-image reconstruction error and KL before the step. */
    public Losses step(Tensor images, Generator generator) {
        try (Scope step = Scope.open()) {
            long batch = images.size(0);
            LatentDistribution q = vae.encode(images);
            Tensor z = q.sample(q.mean().randnLike(generator));
            Tensor reconstruction = Functional.mseLoss(vae.decode(z), images, Functional.Reduction.SUM).div(batch);
            Tensor kl = kl(q).div(batch);
            Tensor loss = reconstruction.add(kl.mul(klWeight));
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
            return new Losses(reconstruction.item(), kl.item());
        }
    }

    /** KL(N(mu, sigma^2) || N(0, 1)) summed over every latent element: 0.5 (mu^2 + sigma^2 - 1 - log sigma^2). */
    static Tensor kl(LatentDistribution q) {
        return q.mean().pow(2).add(q.logvar().exp()).sub(1).sub(q.logvar()).sum().mul(0.5);
    }

    /**
     * The scaling factor that gives the latent means unit variance over {@code images} (how SD's 0.18215 was
     * chosen), so the diffusion model's noise schedule fits the latents.
     */
    public double scalingFactor(Tensor images) {
        try (Scope s = Scope.open(); var inference = org.panamasd.Autograd.inferenceMode()) {
            return 1.0 / vae.encode(images).mean().std(new long[] {0, 1, 2, 3}, 1, false).item();
        }
    }

    public Map<String, Tensor> parameters() {
        return vae.parameters();
    }

    @Override
    public void close() {
        optimizer.close();
        vae.close();
    }
}
