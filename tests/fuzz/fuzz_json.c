/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: the telemetry-reply tokenizer meshctl runs on what a socket says. */
#include <stdint.h>
#include <stdlib.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_json_tok toks[256];
	char out[64];
	int n = mg_json_parse((const char *)data, size, toks, 256);

	for (int i = 0; i < n; i++) {
		if (toks[i].end > size || toks[i].start > toks[i].end || toks[i].next > (uint32_t)n)
			abort();
		if (toks[i].type == MG_JSON_STRING)
			mg_json_string((const char *)data, &toks[i], out, sizeof(out));
		if (toks[i].type == MG_JSON_OBJECT)
			(void)mg_json_get((const char *)data, toks, (uint32_t)i, "key");
	}
	return 0;
}
