/* UTF-8 checks and decoding shared by the tokenizers. */
#ifndef VS_EMBED_UTF8_H
#define VS_EMBED_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns the byte offset of the first invalid UTF-8 sequence in s[0..len) (overlong forms,
 * surrogates and code points above U+10FFFF are invalid), or len if the text is valid. */
size_t vs_utf8_invalid_at(const char *s, size_t len);

/* Decodes one code point of valid UTF-8 at s; returns its length in bytes (1..4). */
int vs_utf8_decode(const unsigned char *s, int32_t *cp);

/* Appends cp as UTF-8 to buf (which must have 4 free bytes); returns the bytes written. */
int vs_utf8_encode(int32_t cp, char *buf);

#endif
