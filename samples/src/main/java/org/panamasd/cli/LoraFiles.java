package org.panamasd.cli;

import java.util.ArrayList;
import java.util.List;
import org.panamasd.lora.LoraAdapter;
import org.panamasd.lora.LoraFusion;
import org.panamasd.lora.LoraSpec;

/** The adapters of {@code --lora FILE[:SCALE]} options, open until closed. */
final class LoraFiles implements AutoCloseable {
    private final List<LoraFusion.Scaled> scaled = new ArrayList<>();

    static LoraFiles open(List<String> specs) {
        LoraFiles files = new LoraFiles();
        try {
            for (String text : specs) {
                LoraSpec spec = LoraSpec.parse(text);
                files.scaled.add(new LoraFusion.Scaled(LoraAdapter.load(spec.file()), spec.scale()));
            }
            return files;
        } catch (RuntimeException e) {
            files.close();
            throw e;
        }
    }

    List<LoraFusion.Scaled> scaled() {
        return List.copyOf(scaled);
    }

    @Override
    public void close() {
        for (LoraFusion.Scaled s : scaled) s.adapter().close();
    }
}
