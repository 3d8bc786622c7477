package org.panamasd.support;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

/** A missing golden root fails where the cases are required (-Pgolden, CI) and skips elsewhere. */
class GoldenRootTest extends NativeTest {

    @Test
    void aMissingRootFailsWhereRequiredAndSkipsElsewhere(@TempDir Path tmp) {
        Path missing = tmp.resolve("no/such/dir");
        AssertionError failure = assertThrows(AssertionError.class, () -> GoldenRoot.check(missing, true));
        assertTrue(failure.getMessage().contains(missing.toString()), failure.getMessage());
        TestAbortedException skip = assertThrows(TestAbortedException.class, () -> GoldenRoot.check(missing, false));
        assertTrue(skip.getMessage().contains(missing.toString()), skip.getMessage());
        assertEquals(tmp, GoldenRoot.check(tmp, true));
    }

    @Test
    void theGoldenProfileOrACiEnvironmentRequiresTheCases() {
        assertTrue(GoldenRoot.required("true", null), "-Pgolden");
        assertTrue(GoldenRoot.required(null, "true"), "CI=true");
        assertTrue(GoldenRoot.required("", "1"), "an empty property defers to CI");
        assertFalse(GoldenRoot.required("false", "true"), "an explicit -Dgolden.required=false wins");
        assertFalse(GoldenRoot.required(null, null));
        assertFalse(GoldenRoot.required("", "false"));
        assertFalse(GoldenRoot.required(null, "0"));
    }
}
