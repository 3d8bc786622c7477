package org.panamasd.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

@Name("org.panamasd.ScopeClosed")
@Label("Tensor Scope Closed")
@Category({"panama-sd", "Native Memory"})
@Description("A tensor scope closed and freed its tensors")
public final class ScopeClosedEvent extends Event {
    @Label("Tensors freed")
    public long tensors;

    @Label("Storage bytes freed")
    @DataAmount
    public long bytes;
}
