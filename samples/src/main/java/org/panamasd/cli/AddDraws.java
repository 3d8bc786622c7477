package org.panamasd.cli;

import java.util.Arrays;
import org.panamasd.Autograd;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.data.FashionCaptions;
import org.panamasd.data.FashionMnist;
import org.panamasd.models.clip.CLIPTextModel;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.models.vae.AutoencoderKL;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.training.add.AddConfig;
import org.panamasd.training.add.AddTrainer;
import org.panamasd.training.add.DiscriminatorProbe;

/**
 * The images ADD's discriminator sees, drawn from Fashion-MNIST latents: a training batch (real latents, their
 * decoded images, captions' contexts and pooled condition), and the student's images for the same latents
 * re-noised at the student's timesteps, drawn without a graph (for the probe and the held-out judgement).
 */
final class AddDraws {
    private final CLIPTokenizer tokenizer;
    private final CLIPTextModel textEncoder;
    private final AutoencoderKL vae;
    private final NoiseSchedule schedule;
    private final AddConfig config;

    AddDraws(CLIPTokenizer tokenizer, CLIPTextModel textEncoder, AutoencoderKL vae, NoiseSchedule schedule, AddConfig config) {
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.vae = vae;
        this.schedule = schedule;
        this.config = config;
    }

    /** A batch of the images at {@code idx} (latents of {@code data}), captions drawn with {@code g}; in the current scope. */
    AddTrainer.Batch batch(FashionMnist data, Tensor latents, int[] idx, Generator g) {
        Tensor x0 = latents.indexSelect(0, Tensor.of(Arrays.stream(idx).asLongStream().toArray(), idx.length));
        String[] captions = FashionCaptions.random(data.labels(idx).toLongArray(), g);
        String[] empty = new String[idx.length];
        Arrays.fill(empty, "");
        try (var frozen = Autograd.noGrad()) {
            CLIPTextModel.Output text = textEncoder.forward(ids(captions));
            Tensor uncond = textEncoder.forward(ids(empty)).lastHiddenState();
            // the discriminator's real images: decoded real latents, so the VAE's own blur is no tell
            Tensor realImages = vae.decode(vae.unscaleLatents(x0));
            return new AddTrainer.Batch(x0, realImages, text.lastHiddenState(), uncond, text.pooled());
        }
    }

    /** The batch's real images beside the student's images drawn from its latents at random student timesteps. */
    DiscriminatorProbe.Images images(AddTrainer.Batch batch, AddTrainer.Denoiser student, Generator g) {
        long[] s = config.drawStudentTimesteps((int) batch.latents().size(0), g);
        try (var frozen = Autograd.noGrad()) {
            Tensor noisy = schedule.addNoise(batch.latents(), batch.latents().randnLike(g), s);
            Tensor fake = vae.decode(vae.unscaleLatents(student.predictX0(noisy, s, batch.context())));
            return new DiscriminatorProbe.Images(batch.realImages(), fake, batch.condition());
        }
    }

    /** The same, in chunks of {@code chunk} images (a held-out set larger than a batch), always from the same seed. */
    DiscriminatorProbe.Images heldOut(FashionMnist data, Tensor latents, int count, int chunk, AddTrainer.Denoiser student, long seed) {
        Tensor[] real = new Tensor[(count + chunk - 1) / chunk], fake = new Tensor[real.length], condition = new Tensor[real.length];
        try (Generator g = new Generator(seed)) {
            for (int c = 0; c < real.length; c++) {
                int[] idx = new int[Math.min(chunk, count - c * chunk)];
                for (int i = 0; i < idx.length; i++) idx[i] = c * chunk + i;
                try (Scope s = Scope.open()) {
                    DiscriminatorProbe.Images images = images(batch(data, latents, idx, g), student, g);
                    real[c] = images.real().moveToParent();
                    fake[c] = images.fake().moveToParent();
                    condition[c] = images.condition().moveToParent();
                }
            }
        }
        DiscriminatorProbe.Images all = new DiscriminatorProbe.Images(Tensor.cat(0, real), Tensor.cat(0, fake), Tensor.cat(0, condition));
        for (Tensor[] parts : new Tensor[][] {real, fake, condition}) for (Tensor t : parts) t.close();  // only the whole set stays
        return all;
    }

    private Tensor ids(String[] captions) {
        return TrainAddCommand.ids(tokenizer, captions, textEncoder);
    }
}
