package org.panamasd.models.clip;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.panamasd.support.ShippedFiles;

/** A service tokenizes whatever its users send: the BPE cache of words met must stay bounded. */
class CLIPTokenizerCacheTest {

    @Test
    void newWordsDoNotGrowTheCacheWithoutBound() {
        CLIPTokenizer tokenizer = CLIPTokenizer.load(ShippedFiles.tokenizer());
        var random = new java.util.Random(1);
        for (int prompt = 0; prompt < 300; prompt++) {
            StringBuilder text = new StringBuilder();
            for (int w = 0; w < 60; w++) {  // 18,000 made-up words in all, nearly all distinct
                for (int c = 0; c < 8; c++) text.append((char) ('a' + random.nextInt(26)));
                text.append(' ');
            }
            tokenizer.tokens(text.toString());
        }
        long cached = tokenizer.cachedWords();
        assertTrue(cached <= CLIPTokenizer.CACHED_WORDS, "cache holds " + cached + " words");
        assertTrue(cached > 0, "the cache is used");
        // a word evicted and met again tokenizes as before
        assertEquals(tokenizer.tokens("a photo of a sneaker"), tokenizer.tokens("a photo of a sneaker"));
    }
}
