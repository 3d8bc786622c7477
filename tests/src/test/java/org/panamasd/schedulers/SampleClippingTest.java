package org.panamasd.schedulers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.panamasd.Generator;
import org.panamasd.Scope;
import org.panamasd.Tensor;
import org.panamasd.support.NativeTest;

class SampleClippingTest extends NativeTest {

    @Test
    void dynamicThresholdingMatchesItsDefinition() {
        double ratio = 0.9, max = 2.0;
        try (Scope scope = Scope.open(); Generator g = new Generator(8)) {
            Tensor x0 = Tensor.randn(g, 2, 4, 4, 4).mul(3);
            float[] values = x0.toFloatArray();
            float[] expected = new float[values.length];
            int perSample = values.length / 2;
            for (int b = 0; b < 2; b++) {
                double[] abs = new double[perSample];
                for (int i = 0; i < perSample; i++) abs[i] = Math.abs(values[b * perSample + i]);
                Arrays.sort(abs);
                double position = ratio * (perSample - 1);  // torch.quantile's linear interpolation
                int low = (int) Math.floor(position);
                double q = abs[low] + (abs[Math.min(low + 1, perSample - 1)] - abs[low]) * (position - low);
                double s = Math.min(Math.max(q, 1), max);
                for (int i = 0; i < perSample; i++)
                    expected[b * perSample + i] = (float) (Math.min(Math.max(values[b * perSample + i], -s), s) / s);
            }
            Tensor got = new SampleClipping(false, 1, true, ratio, max).apply(x0);
            assertArrayEquals(expected, got.toFloatArray(), 1e-5f);
            assertArrayEquals(x0.clamp(-1.5, 1.5).toFloatArray(), new SampleClipping(true, 1.5, false, ratio, max).apply(x0).toFloatArray());
        }
    }
}
