package org.panamasd.nn;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Bands at a test's sizes ({@code @ExtendWith(SmallBands.class)}): 1 MiB bands from 4 MiB up, so that a few MiB
 * hold many bands; the defaults come back after each test.
 */
public final class SmallBands implements BeforeEachCallback, AfterEachCallback {
    private static final long DEFAULT_MIN = BandedConvolution.minBytes, DEFAULT_BAND = BandedConvolution.bandBytes;

    @Override
    public void beforeEach(ExtensionContext context) {
        BandedConvolution.minBytes = 4L << 20;
        BandedConvolution.bandBytes = 1L << 20;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        BandedConvolution.minBytes = DEFAULT_MIN;
        BandedConvolution.bandBytes = DEFAULT_BAND;
    }
}
