package org.panamasd.support;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.panamasd.MemoryStats;

/**
 * Ends every test class with a leak check: the live tensor handle count must be back at the count
 * taken before the class ran.
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(LeakCheck.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(NAMESPACE).put("baseline", MemoryStats.liveTensorCount());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        long baseline = context.getStore(NAMESPACE).get("baseline", Long.class);
        MemoryStats.assertNoLeaks(baseline);
    }
}
