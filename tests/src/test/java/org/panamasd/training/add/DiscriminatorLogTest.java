package org.panamasd.training.add;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The discriminator's log over a resumed run: earlier judgements kept, repeated steps dropped, a foreign line named. */
class DiscriminatorLogTest {
    private static final DiscriminatorTrainer.Judgement J = new DiscriminatorTrainer.Judgement(0.5, -0.5, 0.75);

    @Test
    void aResumeKeepsTheStepsBeforeItAndDropsTheOnesItRepeats(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("d.tsv");
        DiscriminatorLog first = new DiscriminatorLog(file, 1);
        for (long step : new long[] {50, 100, 150}) first.add(step, J, J);
        DiscriminatorLog resumed = new DiscriminatorLog(file, 101);  // resumed from the checkpoint at 100
        resumed.add(150, J, J);                                     // its 150 replaces the old one
        List<String> lines = Files.readAllLines(file);
        assertEquals(4, lines.size(), lines.toString());  // header, 50, 100, the new 150
        assertTrue(lines.get(3).startsWith("150\t"));
        resumed.plot(dir.resolve("d.png"), "t");
        assertTrue(Files.size(dir.resolve("d.png")) > 0);

        Files.writeString(file, "step\nnot a step\n");
        var e = assertThrows(IllegalArgumentException.class, () -> new DiscriminatorLog(file, 10));
        assertTrue(e.getMessage().contains("d.tsv") && e.getMessage().contains("not a step"), e.getMessage());
    }
}
