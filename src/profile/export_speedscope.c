/* export_speedscope.c - speedscope's JSON file format, written here and read
 * back (export.h). */
#include "export.h"
#include "export_int.h"
#include "folded.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define MERGED "all vCPUs"

/* ---- write ---- */

/* speedscope frames are functions, not pcs: key (name, kind, inline) */
static uint64_t frame_key(const struct slog_frame *fr)
{
	return ((uint64_t)fr->name << 8) | ((uint64_t)fr->kind << 1) |
	       (fr->flags & PF_INLINE ? 1u : 0u);
}

static uint64_t proc_key(uint32_t comm)
{
	return ((uint64_t)comm << 8) | ((uint64_t)PK_PROC << 1);
}

static void put_frame(FILE *f, const struct samplelog *l, const struct slog_frame *fr,
		      uint32_t comm, int first)
{
	fputs(first ? "\n{\"name\":\"" : ",\n{\"name\":\"", f);
	if (!fr) {
		export_json_str(f, samplelog_str(l, comm));
		fputs("\"}", f);
		return;
	}
	/* ';' would not survive a folded round trip through speedscope */
	export_json_str(f, samplelog_str(l, fr->name));
	if (fr->flags & PF_INLINE)
		fputs("_[i]", f);
	if (fr->kind == PK_KERNEL)
		fputs("_[k]", f);
	const char *file = samplelog_str(l, fr->file);
	if (!*file)
		file = samplelog_str(l, fr->module);
	if (*file) {
		fputs("\",\"file\":\"", f);
		export_json_str(f, file);
	}
	fputs("\"}", f);
}

long export_speedscope_write(const struct export_job *j, FILE *f)
{
	const struct samplelog *l = j->log;
	struct fmap m = { 0 };
	uint32_t *sf = NULL;            /* slog frame id -> speedscope frame */
	uint32_t *pf = NULL;            /* comm string id -> speedscope frame */
	uint32_t *ids = NULL, cap = 0;
	uint64_t cpus = 0;              /* vCPUs seen (bit mask) */
	long rc = 0;
	uint32_t nfr = samplelog_nframes(l), nstr = samplelog_nstrings(l), v;
	int isnew, first = 1;

	sf = malloc(((size_t)nfr + 1) * sizeof *sf);
	pf = malloc((size_t)nstr * sizeof *pf);
	if (!sf || !pf) {
		rc = -ENOMEM;
		goto out;
	}
	flockfile(f);
	fputs("{\"$schema\":\"" SCHEMA "\",\n\"exporter\":\"qtop-prof 0.1.0\",\n\"name\":\"", f);
	export_json_str(f, j->name);
	fprintf(f, "\",\n\"activeProfileIndex\":0,\n\"x-qtop-period-ns\":%.0f,\n"
		"\"shared\":{\"frames\":[", j->period_ns);
	/* frames in order of first use by the samples: processes and functions */
	for (uint32_t i = 0; i < nstr; i++)
		pf[i] = UINT32_MAX;
	for (uint32_t i = 0; i < nfr; i++) {
		const struct slog_frame *fr = samplelog_frame(l, i);
		if (fmap_get(&m, frame_key(fr), &v, &isnew) < 0) {
			rc = -ENOMEM;
			goto unlock;
		}
		sf[i] = v;
		if (isnew) {
			put_frame(f, l, fr, 0, first);
			first = 0;
		}
	}
	for (uint64_t i = 0; i < j->n; i++) {
		const struct slog_sample *s = samplelog_sample(l, i);
		if (s->cpu < 64)
			cpus |= 1ull << s->cpu;
		if (pf[s->comm] != UINT32_MAX)
			continue;
		if (fmap_get(&m, proc_key(s->comm), &v, &isnew) < 0) {
			rc = -ENOMEM;
			goto unlock;
		}
		pf[s->comm] = v;
		if (isnew) {
			put_frame(f, l, NULL, s->comm, first);
			first = 0;
		}
	}
	fputs("]},\n\"profiles\":[", f);
	/* profile -1: all vCPUs; then one per vCPU seen */
	for (int c = -1; c < 64; c++) {
		if (c >= 0 && !((cpus >> c) & 1))
			continue;
		uint64_t end = 0;
		fprintf(f, "%s\n{\"type\":\"sampled\",\"name\":\"", c < 0 ? "" : ",");
		if (c < 0)
			fputs(MERGED, f);
		else
			fprintf(f, "vCPU %d", c);
		fputs("\",\"unit\":\"nanoseconds\",\"startValue\":0,\n\"samples\":[", f);
		int any = 0;
		for (uint64_t i = 0; i < j->n; i++) {
			const struct slog_sample *s = samplelog_sample(l, i);
			if (c >= 0 && s->cpu != c)
				continue;
			uint32_t d = samplelog_stack(l, s->stack)->depth;
			if (d > cap) {
				uint32_t *nv = realloc(ids, (size_t)d * sizeof *nv);
				if (!nv) {
					rc = -ENOMEM;
					goto unlock;
				}
				ids = nv;
				cap = d;
			}
			samplelog_stack_frames(l, s->stack, ids, cap);
			fprintf(f, "%s[%u", any ? ",\n" : "", pf[s->comm]);
			for (uint32_t k = 0; k < d; k++)
				fprintf(f, ",%u", sf[ids[k]]);
			putc_unlocked(']', f);
			any = 1;
		}
		fputs("],\n\"weights\":[", f);
		any = 0;
		for (uint64_t i = 0; i < j->n; i++) {
			const struct slog_sample *s = samplelog_sample(l, i);
			if (c >= 0 && s->cpu != c)
				continue;
			uint64_t w = (uint64_t)export_ns((double)s->weight * j->period_ns);
			fprintf(f, "%s%" PRIu64, any ? "," : "", w);
			end += w;
			any = 1;
		}
		fprintf(f, "],\"endValue\":%" PRIu64 "}", end);
	}
	fputs("]}\n", f);
	rc = (long)j->n;
unlock:
	funlockfile(f);
out:
	free(m.key);
	free(m.val);
	free(sf);
	free(pf);
	free(ids);
	if (rc >= 0 && ferror(f))
		rc = -EIO;
	return rc;
}

/* ---- read ---- */

static int is_mark(const char *s)
{
	return !strcmp(s, "[unknown]") || !strcmp(s, "[truncated]") ||
	       !strcmp(s, "[idle]");
}

static int sfx(const char *s, size_t *len, const char *x)
{
	if (*len > 4 && !memcmp(s + *len - 4, x, 4)) {
		*len -= 4;
		return 1;
	}
	return 0;
}

struct ss_frame {
	char *name;
	uint8_t kind, flags;
};

static long load_profile(struct profile *p, json_object *prof,
			 const struct ss_frame *fr, size_t nfr, double unit_w,
			 uint32_t cpu, char *err, size_t errlen)
{
	json_object *samples, *weights;
	if (!json_object_object_get_ex(prof, "samples", &samples) ||
	    !json_object_is_type(samples, json_type_array)) {
		snprintf(err, errlen, "a sampled profile without \"samples\"");
		return -EINVAL;
	}
	if (json_object_object_get_ex(prof, "weights", &weights) &&
	    (!json_object_is_type(weights, json_type_array) ||
	     json_object_array_length(weights) != json_object_array_length(samples))) {
		snprintf(err, errlen, "\"weights\" does not match \"samples\"");
		return -EINVAL;
	} else if (!json_object_object_get_ex(prof, "weights", &weights)) {
		weights = NULL;
	}
	size_t ns = json_object_array_length(samples);
	/* unit weight: the period (ours), else the smallest positive weight */
	double u = unit_w;
	for (size_t i = 0; u <= 0 && weights && i < ns; i++) {
		double w = json_object_get_double(json_object_array_get_idx(weights, i));
		if (w > 0 && (u <= 0 || w < u))
			u = w;
	}
	if (u <= 0)
		u = 1;
	struct prof_frame *st = NULL;
	size_t cap = 0;
	long added = 0;
	for (size_t i = 0; i < ns; i++) {
		json_object *stk = json_object_array_get_idx(samples, i);
		if (!json_object_is_type(stk, json_type_array)) {
			snprintf(err, errlen, "sample %zu is not an array", i);
			added = -EINVAL;
			break;
		}
		size_t d = json_object_array_length(stk);
		if (d == 0)
			continue;
		if (d > PROF_MAX_STACK) {
			snprintf(err, errlen, "sample %zu: too many frames", i);
			added = -EINVAL;
			break;
		}
		double w = weights ? json_object_get_double(json_object_array_get_idx(weights, i)) : u;
		/* one entry stands for at most 2^32 samples (5 days at 10 kHz):
		 * the sample log's weight, so exporting it again stays as
		 * small as the file read */
		if (!(w >= 0) || w / u > (double)UINT32_MAX) {
			snprintf(err, errlen, "sample %zu: bad weight (more than 2^32 "
				 "samples in one entry, or negative)", i);
			added = -EINVAL;
			break;
		}
		uint64_t count = (uint64_t)llround(w / u);
		if (count == 0)
			continue;
		if (d > cap) {
			struct prof_frame *nv = realloc(st, d * sizeof *nv);
			if (!nv) {
				added = -ENOMEM;
				break;
			}
			st = nv;
			cap = d;
		}
		for (size_t k = 0; k < d; k++) {
			json_object *ix = json_object_array_get_idx(stk, k);
			int64_t x = json_object_get_int64(ix);
			if (!json_object_is_type(ix, json_type_int) || x < 0 || (uint64_t)x >= nfr) {
				snprintf(err, errlen, "sample %zu: frame index out of range", i);
				free(st);
				return -EINVAL;
			}
			const struct ss_frame *sf = &fr[x];
			st[k] = (struct prof_frame){ .name = sf->name,
				.kind = k == 0 ? PK_PROC : sf->kind, .flags = sf->flags,
				.module = sf->kind == PK_KERNEL && k ? "kernel" : NULL };
		}
		if (count > UINT64_MAX - p->samples || !profile_add(p, st, d, cpu, count)) {
			snprintf(err, errlen, "the profile cannot grow");
			added = -ENOMEM;
			break;
		}
		added += (long)count;
	}
	free(st);
	return added;
}

long import_speedscope(struct profile *p, const void *buf, size_t len,
		       char *err, size_t errlen)
{
	if (len > EXPORT_MAX_INPUT || len > INT32_MAX) {
		snprintf(err, errlen, "file too large");
		return -EFBIG;
	}
	json_tokener *tok = json_tokener_new_ex(64);
	if (!tok)
		return -ENOMEM;
	json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!root || je != json_tokener_success) {
		snprintf(err, errlen, "not valid JSON: %s",
			 je == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(je));
		json_object_put(root);
		return -EINVAL;
	}
	long rc = 0;
	json_object *shared, *frames, *profiles, *o;
	struct ss_frame *fr = NULL;
	size_t nfr = 0;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "shared", &shared) ||
	    !json_object_object_get_ex(shared, "frames", &frames) ||
	    !json_object_is_type(frames, json_type_array) ||
	    !json_object_object_get_ex(root, "profiles", &profiles) ||
	    !json_object_is_type(profiles, json_type_array)) {
		snprintf(err, errlen, "not a speedscope file (no shared.frames / profiles)");
		rc = -EINVAL;
		goto out;
	}
	nfr = json_object_array_length(frames);
	fr = calloc(nfr ? nfr : 1, sizeof *fr);
	if (!fr) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfr; i++) {
		json_object *f = json_object_array_get_idx(frames, i), *nm;
		const char *s;
		if (!json_object_is_type(f, json_type_object) ||
		    !json_object_object_get_ex(f, "name", &nm) ||
		    !(s = json_object_get_string(nm)) || !*s) {
			snprintf(err, errlen, "frame %zu has no name", i);
			rc = -EINVAL;
			goto out;
		}
		size_t l = strlen(s);
		fr[i].kind = PK_USER;
		if (sfx(s, &l, "_[k]"))
			fr[i].kind = PK_KERNEL;
		if (sfx(s, &l, "_[i]"))
			fr[i].flags = PF_INLINE;
		if (l == 0)
			l = strlen(s);     /* a name that is only a suffix */
		fr[i].name = strndup(s, l);
		if (!fr[i].name) {
			rc = -ENOMEM;
			goto out;
		}
		if (fr[i].kind == PK_USER && is_mark(fr[i].name))
			fr[i].kind = PK_MARK;
	}
	int ours = json_object_object_get_ex(root, "exporter", &o) &&
		   !strncmp(json_object_get_string(o) ? json_object_get_string(o) : "",
			    "qtop-prof", 9);
	double period = 0;
	if (ours && json_object_object_get_ex(root, "x-qtop-period-ns", &o))
		period = json_object_get_double(o);
	size_t np = json_object_array_length(profiles);
	int has_cpu = 0, sampled = 0;
	for (size_t i = 0; ours && i < np; i++) {
		json_object *pr = json_object_array_get_idx(profiles, i), *nm;
		const char *s;
		if (json_object_object_get_ex(pr, "name", &nm) && (s = json_object_get_string(nm)) &&
		    !strncmp(s, "vCPU ", 5))
			has_cpu = 1;
	}
	for (size_t i = 0; i < np; i++) {
		json_object *pr = json_object_array_get_idx(profiles, i), *ty, *nm;
		const char *t, *name = "";
		if (!json_object_object_get_ex(pr, "type", &ty) ||
		    !(t = json_object_get_string(ty)) || strcmp(t, "sampled"))
			continue;
		if (json_object_object_get_ex(pr, "name", &nm) && json_object_get_string(nm))
			name = json_object_get_string(nm);
		uint32_t cpu = PROF_CPU_UNKNOWN;
		if (has_cpu) {
			/* ours with vCPUs: the per-vCPU profiles, not the merged one */
			char *end;
			if (strncmp(name, "vCPU ", 5))
				continue;
			unsigned long c = strtoul(name + 5, &end, 10);
			if (*end || c >= PROF_MAX_CPUS)
				continue;
			cpu = (uint32_t)c;
		} else if (ours && strcmp(name, MERGED)) {
			continue;
		}
		sampled++;
		long r = load_profile(p, pr, fr, nfr, period, cpu, err, errlen);
		if (r < 0) {
			rc = r;
			goto out;
		}
		rc += r;
	}
	if (!sampled) {
		snprintf(err, errlen, "no sampled profile in this file (evented "
			 "profiles are not read)");
		rc = -EINVAL;
	}
out:
	for (size_t i = 0; fr && i < nfr; i++)
		free(fr[i].name);
	free(fr);
	json_object_put(root);
	return rc;
}
