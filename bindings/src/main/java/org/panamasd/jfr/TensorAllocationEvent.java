package org.panamasd.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

@Name("org.panamasd.TensorAllocation")
@Label("Large Tensor Allocation")
@Category({"panama-sd", "Native Memory"})
@Description("A tensor whose storage is at least panamasd.jfr.allocationThreshold bytes (default 1 MiB)")
@StackTrace(true)
public final class TensorAllocationEvent extends Event {
    @Label("Storage bytes")
    @DataAmount
    public long bytes;

    @Label("Shape")
    public String shape;

    @Label("dtype")
    public String dtype;

    @Label("Module path")
    @Description("The module that was running (its state-dict prefix), when module tracking is on")
    public String modulePath;
}
