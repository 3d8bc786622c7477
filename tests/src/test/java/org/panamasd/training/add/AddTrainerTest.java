package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.io.DiffusersConfig;
import org.panamasd.models.dinov2.Dinov2Model;
import org.panamasd.models.unet.UNet2DConditionModel;
import org.panamasd.schedulers.NoiseSchedule;
import org.panamasd.schedulers.PredictionType;
import org.panamasd.support.NativeTest;
import org.panamasd.training.TrainedParameters;

/**
 * ADD iterations on tiny models. Nothing here freezes the teacher or the feature network: the trainer alone
 * must keep them untouched (no step, no gradient), while the student and the discriminator learn.
 */
class AddTrainerTest extends NativeTest {
    private static final String UNET = """
            {"in_channels": 3, "out_channels": 3, "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": 2,
             "cross_attention_dim": 16, "norm_num_groups": 8}""";
    private static final String DINO = """
            {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 8, "patch_size": 4, "num_channels": 3}""";

    /** A v-prediction UNet as the trainer's x_0 denoiser. */
    private static AddTrainer.Denoiser vPrediction(NoiseSchedule schedule, UNet2DConditionModel net) {
        return (x, t, c) -> schedule.originalSample(PredictionType.V_PREDICTION, net.forward(x, Tensor.of(t, t.length), c, null, null), x, t);
    }

    private static List<float[]> snapshot(Iterable<Tensor> parameters) {
        List<float[]> values = new ArrayList<>();
        for (Tensor p : parameters) values.add(p.toFloatArray());
        return values;
    }

    private static boolean changed(List<float[]> before, Iterable<Tensor> parameters) {
        int i = 0;
        for (Tensor p : parameters) if (!java.util.Arrays.equals(before.get(i++), p.toFloatArray())) return true;
        return false;
    }

    @Test
    void iterationsTrainStudentAndDiscriminatorOnly() {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));
        try (Scope scope = Scope.open();
             UNet2DConditionModel studentNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             UNet2DConditionModel teacherNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             Dinov2Model dino = Dinov2Model.initialize(DiffusersConfig.parse(DINO), 2);
             ProjectedDiscriminator discriminator = new ProjectedDiscriminator(new int[] {0, 1, 2}, 16, 8, 12, HeadNorm.LOCAL, 3);
             Generator g = new Generator(4)) {
            AddTrainer.Denoiser student = vPrediction(schedule, studentNet);
            AddTrainer.Denoiser teacher = vPrediction(schedule, teacherNet);
            Map<String, Tensor> teacherParams = teacherNet.parameters();
            List<float[]> studentBefore = snapshot(studentNet.parameters().values()), teacherBefore = snapshot(teacherParams.values());
            List<float[]> headsBefore = snapshot(discriminator.parameters()), dinoBefore = snapshot(dino.parameters().values());
            try (DiscriminatorTrainer heads = new DiscriminatorTrainer(discriminator, image -> dino.forward(image).hiddenStates(), 1e-4, 1.0, true);
                 AddTrainer trainer = new AddTrainer(AddConfig.defaults(), student, TrainedParameters.weights(studentNet.parameters()), teacher, x -> x.tanh(), heads, schedule)) {
                for (int i = 0; i < 2; i++) {
                    try (Scope step = Scope.open()) {
                        Tensor real = Tensor.randn(g, 8, 3, 8, 8).tanh();
                        AddTrainer.Batch batch = new AddTrainer.Batch(real, real, Tensor.randn(g, 8, 1, 16), Tensor.zeros(8, 1, 16), Tensor.randn(g, 8, 8));
                        AddTrainer.Losses losses = trainer.step(batch, g);
                        // hinge terms are means of relu(1 -/+ logits): >= 0; R1 is a squared norm: > 0 for a non-constant D
                        assertTrue(losses.discriminatorReal() >= 0 && losses.discriminatorFake() >= 0 && losses.r1() > 0, losses.toString());
                        assertTrue(losses.distillation() > 0 && Double.isFinite(losses.generator()), losses.toString());
                    }
                }
                assertTrue(changed(studentBefore, studentNet.parameters().values()), "the student learns");
                assertTrue(changed(headsBefore, discriminator.parameters()), "the discriminator learns");
                assertFalse(changed(teacherBefore, teacherParams.values()), "the teacher is untouched");
                for (Tensor p : teacherParams.values()) assertNull(p.grad(), "no gradient reaches the teacher");
                assertFalse(changed(dinoBefore, dino.parameters().values()), "the feature network is untouched");
                // the EMA moved towards the trained student but is not it
                Tensor anyKey = studentNet.parameters().values().iterator().next();
                String key = studentNet.parameters().keySet().iterator().next();
                assertFalse(java.util.Arrays.equals(anyKey.toFloatArray(), trainer.studentEma().get(key).toFloatArray()), "EMA lags the student");
            }
        }
    }

    @Test
    void duringTheWarmUpOnlyTheDiscriminatorLearns() {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));
        AddConfig d = AddConfig.defaults();
        AddConfig warmUp = new AddConfig(d.studentTimesteps(), d.lambda(), d.weighting(), d.teacherGuidance(), d.studentLearningRate(), d.emaDecay(), 2, 1);
        try (Scope scope = Scope.open();
             UNet2DConditionModel studentNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             Dinov2Model dino = Dinov2Model.initialize(DiffusersConfig.parse(DINO), 2);
             ProjectedDiscriminator discriminator = new ProjectedDiscriminator(new int[] {0, 2}, 16, 8, 12, HeadNorm.SKIP_FIRST, 3);
             Generator g = new Generator(4)) {
            AddTrainer.Denoiser student = vPrediction(schedule, studentNet);
            try (DiscriminatorTrainer heads = new DiscriminatorTrainer(discriminator, image -> dino.forward(image).hiddenStates(), 1e-3, 1.0, false);
                 AddTrainer trainer = new AddTrainer(warmUp, student, TrainedParameters.weights(studentNet.parameters()), student, x -> x.tanh(), heads, schedule)) {
                List<float[]> studentBefore = snapshot(studentNet.parameters().values()), emaBefore = snapshot(trainer.studentEma().values());
                List<float[]> headsBefore = snapshot(discriminator.parameters());
                AddTrainer.Losses first = step(trainer, g);
                assertFalse(first.studentTrained(), "iteration 1 is the warm-up: " + first);
                assertFalse(changed(studentBefore, studentNet.parameters().values()), "the student waits");
                assertFalse(changed(emaBefore, trainer.studentEma().values()), "its EMA waits");
                assertTrue(changed(headsBefore, discriminator.parameters()), "the heads learn");
                assertEquals(0, trainer.studentSteps());
                AddTrainer.Losses second = step(trainer, g);
                assertTrue(second.studentTrained() && Double.isFinite(second.generator()), second.toString());
                assertTrue(changed(studentBefore, studentNet.parameters().values()), "after the warm-up the student learns");
                assertEquals(1, trainer.studentSteps());
                // the judgement counts 8 real and 8 generated samples: its accuracy is a share of 16
                assertEquals(0, second.discriminatorBatch().accuracy() * 16 % 1, 1e-9, second.discriminatorBatch().toString());
            }
        }
    }

    @Test
    void nfsdTrainsTheStudentAndNeedsTheEmptyPromptsContext() {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));
        AddConfig d = AddConfig.defaults();
        AddConfig nfsd = new AddConfig(d.studentTimesteps(), d.lambda(), DistillationWeighting.NFSD, 1.5, d.studentLearningRate(), d.emaDecay(), 1, 0);
        try (Scope scope = Scope.open();
             UNet2DConditionModel studentNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             UNet2DConditionModel teacherNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             Dinov2Model dino = Dinov2Model.initialize(DiffusersConfig.parse(DINO), 2);
             ProjectedDiscriminator discriminator = new ProjectedDiscriminator(new int[] {0, 2}, 16, 8, 12, HeadNorm.SKIP_FIRST, 3);
             Generator g = new Generator(4)) {
            AddTrainer.Denoiser student = vPrediction(schedule, studentNet);
            AddTrainer.Denoiser teacher = vPrediction(schedule, teacherNet);
            try (DiscriminatorTrainer heads = new DiscriminatorTrainer(discriminator, image -> dino.forward(image).hiddenStates(), 1e-3, 1.0, false);
                 AddTrainer trainer = new AddTrainer(nfsd, student, TrainedParameters.weights(studentNet.parameters()), teacher, x -> x.tanh(), heads, schedule)) {
                List<float[]> studentBefore = snapshot(studentNet.parameters().values());
                AddTrainer.Losses losses = step(trainer, g);
                assertTrue(losses.distillation() > 0 && Double.isFinite(losses.distillation()), losses.toString());
                assertTrue(changed(studentBefore, studentNet.parameters().values()), "the student learns");
                try (Scope step = Scope.open()) {
                    Tensor real = Tensor.randn(g, 8, 3, 8, 8).tanh();
                    var e = assertThrows(IllegalArgumentException.class,
                            () -> trainer.step(new AddTrainer.Batch(real, real, Tensor.randn(g, 8, 1, 16), null, Tensor.randn(g, 8, 8)), g));
                    assertTrue(e.getMessage().contains("nfsd") && e.getMessage().contains("empty prompt"), e.getMessage());
                }
            }
        }
    }

    @Test
    void theRegressionTermPullsOneStepSamplesToTheTeachersPairs() {
        double without = regressionDistanceAfterTraining(0), with = regressionDistanceAfterTraining(100);
        double before = regressionDistanceAfterTraining(-1);
        assertTrue(with < 0.8 * before, "the regression moves the one-step samples to the pairs' targets: " + before + " -> " + with);
        assertTrue(with < without, "more than the other terms alone do: " + with + " with the regression, " + without + " without");
    }

    /**
     * Mean squared distance of the student's one-step samples from fixed pairs' targets after 6 iterations at the
     * given regression weight (-1: before any). Every run starts from the same weights and seeds.
     */
    private static double regressionDistanceAfterTraining(double weight) {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.parse("{\"rescale_betas_zero_snr\": true}"));
        AddConfig d = AddConfig.defaults();
        AddConfig config = new AddConfig(d.studentTimesteps(), d.lambda(), d.weighting(), 1.0, 1e-3, d.emaDecay(), 1, 0, Math.max(weight, 0));
        try (Scope scope = Scope.open();
             UNet2DConditionModel studentNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             UNet2DConditionModel teacherNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 2);
             Dinov2Model dino = Dinov2Model.initialize(DiffusersConfig.parse(DINO), 2);
             ProjectedDiscriminator discriminator = new ProjectedDiscriminator(new int[] {0, 2}, 16, 8, 12, HeadNorm.SKIP_FIRST, 3);
             Generator g = new Generator(4)) {
            AddTrainer.Denoiser student = vPrediction(schedule, studentNet);
            RegressionPairs.Batch pairs = new RegressionPairs.Batch(Tensor.randn(g, 8, 3, 8, 8), Tensor.randn(g, 8, 1, 16),
                    Tensor.randn(g, 8, 3, 8, 8).tanh(), 999);
            try (DiscriminatorTrainer heads = new DiscriminatorTrainer(discriminator, image -> dino.forward(image).hiddenStates(), 1e-3, 1.0, false);
                 AddTrainer trainer = new AddTrainer(config, student, TrainedParameters.weights(studentNet.parameters()), vPrediction(schedule, teacherNet),
                         x -> x.tanh(), heads, schedule)) {
                for (int i = 0; weight >= 0 && i < 6; i++) {
                    try (Scope step = Scope.open()) {
                        Tensor real = Tensor.randn(g, 8, 3, 8, 8).tanh();
                        AddTrainer.Losses l = trainer.step(new AddTrainer.Batch(real, real, Tensor.randn(g, 8, 1, 16), Tensor.zeros(8, 1, 16),
                                Tensor.randn(g, 8, 8)), pairs, g);
                        assertEquals(weight > 0, Double.isFinite(l.regression()), "the regression is reported when it is trained: " + l);
                    }
                }
                try (Scope s = Scope.open(); var frozen = org.panamasd.Autograd.noGrad()) {
                    long[] t = {999, 999, 999, 999, 999, 999, 999, 999};
                    return student.predictX0(pairs.noise(), t, pairs.context()).sub(pairs.target()).pow(2).mean().item();
                }
            }
        }
    }

    private static AddTrainer.Losses step(AddTrainer trainer, Generator g) {
        try (Scope step = Scope.open()) {
            Tensor real = Tensor.randn(g, 8, 3, 8, 8).tanh();
            return trainer.step(new AddTrainer.Batch(real, real, Tensor.randn(g, 8, 1, 16), Tensor.zeros(8, 1, 16), Tensor.randn(g, 8, 8)), g);
        }
    }
}
