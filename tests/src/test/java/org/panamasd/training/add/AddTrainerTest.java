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

/** One ADD iteration on tiny models: the student and the discriminator learn, the teacher and the feature network do not. */
class AddTrainerTest extends NativeTest {
    private static final String UNET = """
            {"in_channels": 1, "out_channels": 1, "block_out_channels": [16, 32], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
             "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "attention_head_dim": 2,
             "cross_attention_dim": 16, "norm_num_groups": 8}""";
    private static final String DINO = """
            {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 8, "patch_size": 4, "num_channels": 3}""";

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
    void oneIterationTrainsStudentAndDiscriminatorOnly() {
        NoiseSchedule schedule = NoiseSchedule.fromConfig(DiffusersConfig.empty());
        try (Scope scope = Scope.open();
             UNet2DConditionModel studentNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             UNet2DConditionModel teacherNet = UNet2DConditionModel.initialize(DiffusersConfig.parse(UNET), 1);
             Dinov2Model dino = Dinov2Model.initialize(DiffusersConfig.parse(DINO), 2).freeze();
             DiscriminatorHeads heads = new DiscriminatorHeads(new int[] {1, 2}, 16, 3);
             Generator g = new Generator(4)) {
            for (Tensor p : teacherNet.parameters().values()) p.requiresGrad(false);
            Tensor context = Tensor.zeros(4, 1, 16);
            AddTrainer.Denoiser student = (x, t) -> schedule.originalSample(PredictionType.EPSILON, studentNet.forward(x, t, context, null, null), x, t.toLongArray());
            AddTrainer.Denoiser teacher = (x, t) -> schedule.originalSample(PredictionType.EPSILON, teacherNet.forward(x, t, context, null, null), x, t.toLongArray());
            try (AddTrainer trainer = new AddTrainer(student, new ArrayList<>(studentNet.parameters().values()), teacher,
                    image -> dino.forward(image.repeat(1, 3, 1, 1)).hiddenStates(), heads, schedule, new long[] {999, 749, 499, 249}, 1e-3, 2.5, 1e-2)) {
                Map<String, Tensor> teacherParams = teacherNet.parameters();
                List<float[]> studentBefore = snapshot(studentNet.parameters().values()), teacherBefore = snapshot(teacherParams.values());
                List<float[]> headsBefore = snapshot(heads.parameters());
                Tensor real = Tensor.randn(g, 4, 1, 8, 8).tanh();
                AddTrainer.Losses losses = trainer.step(real, g);
                assertTrue(Double.isFinite(losses.generator()) && Double.isFinite(losses.distillation())
                        && Double.isFinite(losses.discriminator()) && losses.r1() > 0, losses.toString());
                assertTrue(changed(studentBefore, studentNet.parameters().values()), "the student learns");
                assertTrue(changed(headsBefore, heads.parameters()), "the discriminator learns");
                assertFalse(changed(teacherBefore, teacherParams.values()), "the teacher is frozen");
                for (Tensor p : teacherParams.values()) assertNull(p.grad(), "no gradient reaches the teacher");
            }
        }
    }
}
