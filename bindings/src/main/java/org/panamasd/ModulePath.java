package org.panamasd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.panamasd.internal.Native;
import org.panamasd.internal.panamasd_h;

/**
 * Which module is running on this thread, named as the checkpoint names it ({@code
 * unet.up_blocks.3.attentions.0.transformer_blocks.0.attn1}), so that an allocation knows where it happened. A
 * model's forward enters its {@link Name} around its work; a component's top module enters a {@link
 * #component} name ("unet", "vae", "text_encoder_2") and the modules below it enter their state-dict prefix
 * relative to it. The path in force is the innermost component joined with the innermost prefix.
 *
 * <p>Off by default: {@link #enter} then costs one read of a static field and returns a shared no-op. On (while an
 * {@link AllocationRecording} runs, or after {@link #track(boolean)}), each entry and exit and each native op
 * tags the thread in the shim, so the counting allocator's recorded events carry the module and op ids, and
 * {@link #current()} names the path for JFR allocation events and leak reports.
 */
public final class ModulePath {
    /** A module's name: a component's ({@link #component}) or a state-dict prefix below one ({@link #of}). */
    public static final class Name {
        final String text;
        final boolean component;
        // the full path's id under the component it was last entered in (components rarely change under a module)
        private volatile long cached = -1;  // component id << 32 | path id

        private Name(String text, boolean component) {
            this.text = text;
            this.component = component;
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** What {@link #enter} returns: leaving the module (a no-op when tracking was off at entry). */
    public interface Entered extends AutoCloseable {
        @Override
        void close();
    }

    private static final Entered NOT_TRACKED = () -> {};
    // id -> text; index 0 is "no module" / "no op"
    private static final List<String> PATHS = new ArrayList<>(List.of("")), OPS = new ArrayList<>(List.of(""));
    private static final Map<String, Integer> PATH_IDS = new ConcurrentHashMap<>(), OP_IDS = new ConcurrentHashMap<>();
    private static final ThreadLocal<Frames> FRAMES = ThreadLocal.withInitial(Frames::new);

    private ModulePath() {}

    /** A component's top module ("unet", "vae", "text_encoder"): the paths below it start with this name. */
    public static Name component(String name) {
        return new Name(name, true);
    }

    /** A module at state-dict {@code prefix} inside its component ("down_blocks.0.resnets.1"). */
    public static Name of(String prefix) {
        return new Name(prefix, false);
    }

    /** Whether entries are tracked now. */
    public static boolean tracking() {
        return (OpHooks.active & OpHooks.TAGS) != 0;
    }

    /**
     * Turns tracking on or off for the whole process. An {@link AllocationRecording} turns it on for its
     * duration; turned on alone, it names paths in JFR allocation events and leak reports.
     */
    public static void track(boolean on) {
        Native.ensureLoaded();
        OpHooks.set(OpHooks.TAGS, on);
    }

    /** Enters {@code name} on this thread until the result is closed (use it in try-with-resources). */
    public static Entered enter(Name name) {
        if ((OpHooks.active & OpHooks.TAGS) == 0) return NOT_TRACKED;
        Frames f = FRAMES.get();
        f.push(name);
        return f;
    }

    /** This thread's module path now, or null when tracking is off or no module is running. */
    public static String current() {
        if ((OpHooks.active & OpHooks.TAGS) == 0) return null;
        int id = FRAMES.get().top();
        return id == 0 ? null : path(id);
    }

    /** The text of a module path id from a recording (0: ""). */
    public static synchronized String path(int id) {
        return id >= 0 && id < PATHS.size() ? PATHS.get(id) : "(unknown module " + id + ")";
    }

    /** The name of an op id from a recording (0: ""). */
    public static synchronized String op(int id) {
        return id >= 0 && id < OPS.size() ? OPS.get(id) : "(unknown op " + id + ")";
    }

    /** Tags this thread's coming allocations with the op {@code name} (shim function or ATen operator) and the current module. */
    static void tagOp(String name) {
        Frames f = FRAMES.get();
        f.op = intern(OP_IDS, OPS, name);
        panamasd_h.psd_alloc_record_tag(f.top(), f.op);
    }

    private static int intern(Map<String, Integer> ids, List<String> texts, String text) {
        Integer id = ids.get(text);
        if (id != null) return id;
        synchronized (ModulePath.class) {
            return ids.computeIfAbsent(text, t -> {
                texts.add(t);
                return texts.size() - 1;
            });
        }
    }

    /** A thread's stack of entered modules: path ids, and for each the index of the component frame in force. */
    private static final class Frames implements Entered {
        int[] ids = new int[32], components = new int[32];
        int depth;
        int op;

        int top() {
            return depth == 0 ? 0 : ids[depth - 1];
        }

        void push(Name name) {
            if (depth == ids.length) {
                ids = java.util.Arrays.copyOf(ids, depth * 2);
                components = java.util.Arrays.copyOf(components, depth * 2);
            }
            int component = name.component ? depth : depth == 0 ? -1 : components[depth - 1];
            int componentId = component < 0 || name.component ? 0 : ids[component];
            ids[depth] = idOf(name, component, componentId);
            components[depth] = component;
            depth++;
            panamasd_h.psd_alloc_record_tag(ids[depth - 1], 0);
        }

        private int idOf(Name name, int component, int componentId) {
            long cached = name.cached;
            if (cached >= 0 && (int) (cached >>> 32) == componentId) return (int) cached;
            String text = name.component || component < 0 ? name.text : path(componentId) + "." + name.text;
            int id = intern(PATH_IDS, PATHS, text);
            name.cached = (long) componentId << 32 | id;
            return id;
        }

        @Override
        public void close() {
            if (depth == 0) return;  // tracking turned on inside a module entered untracked
            depth--;
            panamasd_h.psd_alloc_record_tag(top(), 0);
        }
    }
}
