package org.panamasd.schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import org.panamasd.io.DiffusersConfig;

/** Makes the scheduler a diffusers config names in {@code _class_name}. */
public final class Schedulers {

    /** The scheduler classes built here, by their diffusers names. */
    public static final java.util.List<String> NAMES = java.util.List.of("DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler",
            "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "LCMScheduler", "HeunDiscreteScheduler", "PNDMScheduler",
            "LMSDiscreteScheduler");

    public static Scheduler fromConfig(DiffusersConfig config) {
        String name = config.className();
        if (name == null) throw new IllegalArgumentException(config.source() + " has no _class_name: pass the scheduler class name");
        return create(name, config);
    }

    /** A diffusers scheduler directory ({@code scheduler_config.json}) or the config file itself. */
    public static Scheduler fromPath(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("scheduler_config.json") : path;
        return fromConfig(DiffusersConfig.read(file));
    }

    public static Scheduler create(String className, DiffusersConfig config) {
        return switch (className) {
            case "DDPMScheduler" -> new DDPMScheduler(config);
            case "DDIMScheduler" -> new DDIMScheduler(config);
            case "EulerDiscreteScheduler" -> new EulerDiscreteScheduler(config);
            case "EulerAncestralDiscreteScheduler" -> new EulerAncestralDiscreteScheduler(config);
            case "DPMSolverMultistepScheduler" -> new DPMSolverMultistepScheduler(config);
            case "LCMScheduler" -> new LCMScheduler(config);
            case "HeunDiscreteScheduler" -> new HeunDiscreteScheduler(config);
            case "PNDMScheduler" -> new PNDMScheduler(config);
            case "LMSDiscreteScheduler" -> new LMSDiscreteScheduler(config);
            default -> throw new IllegalArgumentException(config.source() + ": scheduler class " + className + " is not built here ("
                    + String.join(", ", NAMES) + ")");
        };
    }

    private Schedulers() {}
}
