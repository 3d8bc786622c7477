package org.panamasd.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

@Name("org.panamasd.TensorLeak")
@Label("Tensor Leak")
@Category({"panama-sd", "Native Memory"})
@Description("A leak check found more live tensor handles than its baseline")
public final class TensorLeakEvent extends Event {
    @Label("Leaked handles")
    public long leaked;

    @Label("Report")
    public String report;
}
