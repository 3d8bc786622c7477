package org.panamasd.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.panamasd.models.clip.CLIPTokenizer;

/** The tokenizer case: for every prompt, the full ids, and the 77-token rows padded with 49407 and with 0, and the mask. */
final class ClipTokenizerCaseCheck implements GoldenParityTest.CaseCheck {

    @Override
    public void check(GoldenCase c) throws Exception {
        CLIPTokenizer tokenizer = CLIPTokenizer.load(c.dir());
        CLIPTokenizer padWithBang = tokenizer.withPadToken("!");  // the SD 2.x / SDXL-second tokenizer
        int length = c.json().path("context_length").asInt(77);
        JsonNode prompts = new ObjectMapper().readTree(c.dir().resolve("prompts.json").toFile());
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode row = prompts.get(i);
            String prompt = row.get("prompt").asText();
            try {
                long[] full = ids(row.get("hf_ids_full"));
                int[] encoded = tokenizer.encode(prompt);
                long[] got = new long[encoded.length + 2];
                got[0] = tokenizer.startId();
                for (int k = 0; k < encoded.length; k++) got[k + 1] = encoded[k];
                got[got.length - 1] = tokenizer.endId();
                Compare.exact("hf_ids_full", full, got);
                Compare.exact("hf_input_ids_77", ids(row.get("hf_input_ids_77")), tokenizer.inputIds(prompt, length));
                Compare.exact("hf_pad0_input_ids_77", ids(row.get("hf_pad0_input_ids_77")), padWithBang.inputIds(prompt, length));
                Compare.exact("openai_tokenize_77", ids(row.get("openai_tokenize_77")), tokenizer.inputIds(prompt, length, 0));
                Compare.exact("hf_attention_mask_77", ids(row.get("hf_attention_mask_77")), tokenizer.attentionMask(prompt, length));
            } catch (AssertionError e) {
                failures.add("prompt " + i + " " + new ObjectMapper().writeValueAsString(prompt) + ": " + e.getMessage()
                        + "\n    tokens " + tokenizer.tokens(prompt));
            }
        }
        if (!failures.isEmpty()) throw new AssertionError(failures.size() + " prompt(s) differ:\n" + String.join("\n", failures));
    }

    private static long[] ids(JsonNode array) {
        long[] ids = new long[array.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = array.get(i).asLong();
        return ids;
    }
}
