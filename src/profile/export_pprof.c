/* export_pprof.c - pprof (profile.proto, gzip'd) written and read with
 * protobuf-c and zlib (export.h). */
#include "export.h"
#include "export_int.h"
#include "profile.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile PProfile;
typedef Perftools__Profiles__Sample PSample;
typedef Perftools__Profiles__Location PLocation;
typedef Perftools__Profiles__Line PLine;
typedef Perftools__Profiles__Function PFunction;
typedef Perftools__Profiles__Mapping PMapping;
typedef Perftools__Profiles__Label PLabel;
typedef Perftools__Profiles__ValueType PValueType;

/* ---- write ---- */

/* Extra strings after the log's own (whose ids are their indices). */
enum { S_SAMPLES, S_COUNT, S_CPU, S_NS, S_PROCESS, S_VCPU, S_MODE,
       S_M_UNKNOWN, S_M_KERNEL, S_M_USER, S_M_IDLE, S_NEXTRA };
static const char *const extra[S_NEXTRA] = {
	"samples", "count", "cpu", "nanoseconds", "process", "vcpu", "mode",
	"unknown", "kernel", "user", "idle" };

struct agg {                    /* one pprof sample: a distinct key */
	uint32_t stack, comm;
	uint16_t cpu;
	uint8_t mode;
	uint64_t weight;
};

struct wr {
	const struct samplelog *l;
	uint32_t base;          /* string index of extra[0] */
	uint32_t ncpustr;       /* "0".."63" start here */
	struct fmap fn, map, loc;
	PFunction *fns;
	PMapping *maps;
	PLocation *locs;
};

static int kind_module(const struct samplelog *l, const struct slog_frame *fr)
{
	return fr->kind == PK_MARK ? 0 : (int)fr->module;
}

static uint64_t fn_key(const struct slog_frame *fr)
{
	return ((uint64_t)fr->name << 8) | fr->kind;
}

/* function index for frame fr */
static int get_fn(struct wr *w, const struct slog_frame *fr, uint32_t *ix)
{
	int isnew;
	if (fmap_get(&w->fn, fn_key(fr), ix, &isnew) < 0)
		return -ENOMEM;
	if (isnew) {
		PFunction *nv = realloc(w->fns, (size_t)w->fn.n * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		w->fns = nv;
		PFunction f = PERFTOOLS__PROFILES__FUNCTION__INIT;
		f.id = *ix + 1;
		f.name = fr->name;
		f.system_name = fr->name;
		f.filename = fr->file;
		w->fns[*ix] = f;
	}
	return 0;
}

static int get_map(struct wr *w, const struct slog_frame *fr, uint32_t *mapid)
{
	int mod = kind_module(w->l, fr), isnew;
	uint32_t ix;
	*mapid = 0;
	if (!mod)
		return 0;
	if (fmap_get(&w->map, (uint64_t)mod, &ix, &isnew) < 0)
		return -ENOMEM;
	if (isnew) {
		PMapping *nv = realloc(w->maps, (size_t)w->map.n * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		w->maps = nv;
		PMapping m = PERFTOOLS__PROFILES__MAPPING__INIT;
		m.id = ix + 1;
		m.filename = mod;
		m.memory_start = UINT64_MAX;
		m.has_functions = m.has_filenames = m.has_line_numbers = 1;
		w->maps[ix] = m;
	}
	PMapping *m = &w->maps[ix];
	if (fr->addr) {
		if (fr->addr < m->memory_start)
			m->memory_start = fr->addr;
		if (fr->addr + 1 > m->memory_limit)
			m->memory_limit = fr->addr + 1;
	}
	if (fr->flags & PF_INLINE)
		m->has_inline_frames = 1;
	*mapid = ix + 1;
	return 0;
}

static long pprof_build(struct wr *w, const struct export_job *j, PProfile *pr,
			struct agg **aggs_out, uint32_t *nagg_out)
{
	const struct samplelog *l = j->log;
	uint32_t nfr = samplelog_nframes(l), nst = samplelog_nstacks(l);
	/* per stack id: its location sequence is built on the fly */
	struct agg *aggs = NULL;
	uint32_t nagg = 0, capagg = 0;
	struct fmap am = { 0 };
	(void)nst;
	(void)nfr;
	for (uint64_t i = 0; i < j->n; i++) {
		const struct slog_sample *s = samplelog_sample(l, i);
		/* (stack, comm) is 64 bits; cpu and mode go in a separate probe */
		uint64_t key = ((uint64_t)s->stack << 32) ^ ((uint64_t)s->comm << 20) ^
			       ((uint64_t)s->cpu << 4) ^ s->mode;
		uint32_t ix;
		int isnew;
		for (;;) {
			if (fmap_get(&am, key, &ix, &isnew) < 0)
				goto oom;
			if (isnew) {
				if (nagg == capagg) {
					capagg = capagg ? capagg * 2 : 1024;
					struct agg *na = realloc(aggs, capagg * sizeof *na);
					if (!na)
						goto oom;
					aggs = na;
				}
				aggs[nagg++] = (struct agg){ s->stack, s->comm, s->cpu, s->mode, 0 };
			}
			struct agg *a = &aggs[ix];
			if (a->stack == s->stack && a->comm == s->comm &&
			    a->cpu == s->cpu && a->mode == s->mode) {
				a->weight += s->weight;
				break;
			}
			key = key * 0x9e3779b97f4a7c15ull + 1;   /* collision: probe on */
		}
	}
	free(am.key);
	free(am.val);
	*aggs_out = aggs;
	*nagg_out = nagg;
	(void)pr;
	return 0;
oom:
	free(am.key);
	free(am.val);
	free(aggs);
	return -ENOMEM;
}

/* location index for the group of frames ids[0..n) (root-first: a function
 * frame, then frames inlined into it); lines innermost first */
static int get_loc(struct wr *w, const uint32_t *ids, uint32_t n, uint32_t *ix)
{
	int isnew;
	uint64_t key = ((uint64_t)ids[0] << 32) | ids[n - 1];
	if (fmap_get(&w->loc, key, ix, &isnew) < 0)
		return -ENOMEM;
	if (!isnew)
		return 0;
	PLocation loc = PERFTOOLS__PROFILES__LOCATION__INIT;
	PLocation *nv = realloc(w->locs, (size_t)w->loc.n * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	w->locs = nv;
	w->locs[*ix] = loc;             /* no lines yet: safe to free */
	const struct slog_frame *fr0 = samplelog_frame(w->l, ids[0]);
	uint32_t mid;
	loc.id = *ix + 1;
	loc.address = fr0->addr;
	if (get_map(w, fr0, &mid) < 0)
		return -ENOMEM;
	loc.mapping_id = mid;
	/* lines are allocated per location (few, small) */
	PLine *lines = calloc(n, sizeof *lines);
	PLine **lp = calloc(n, sizeof *lp);
	if (!lines || !lp) {
		free(lines);
		free(lp);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < n; k++) {
		const struct slog_frame *fr = samplelog_frame(w->l, ids[n - 1 - k]);
		uint32_t f;
		if (get_fn(w, fr, &f) < 0) {
			free(lines);
			free(lp);
			return -ENOMEM;
		}
		PLine ln = PERFTOOLS__PROFILES__LINE__INIT;
		ln.function_id = f + 1;
		ln.line = fr->line;
		lines[k] = ln;
		lp[k] = &lines[k];
	}
	loc.n_line = n;
	loc.line = lp;
	w->locs[*ix] = loc;
	return 0;
}

long export_pprof_write(const struct export_job *j, FILE *f)
{
	const struct samplelog *l = j->log;
	struct wr w;
	memset(&w, 0, sizeof w);
	w.l = l;
	struct agg *aggs = NULL;
	uint32_t nagg = 0, *ids = NULL, cap = 0;
	PSample *smp = NULL, **smpp = NULL;
	uint64_t *locids = NULL, *vals = NULL;
	PLabel *labels = NULL, **labelp = NULL;
	char **strs = NULL, cpustr[64][4];
	uint8_t *packed = NULL, *gz = NULL;
	long rc = -ENOMEM;

	if (pprof_build(&w, j, NULL, &aggs, &nagg) < 0)
		goto out;
	uint32_t nls = samplelog_nstrings(l);
	w.base = nls;
	w.ncpustr = nls + S_NEXTRA;
	size_t nstr = (size_t)nls + S_NEXTRA + 64;
	strs = malloc(nstr * sizeof *strs);
	if (!strs)
		goto out;
	for (uint32_t i = 0; i < nls; i++)
		strs[i] = (char *)samplelog_str(l, i);
	for (int i = 0; i < S_NEXTRA; i++)
		strs[nls + i] = (char *)extra[i];
	for (int c = 0; c < 64; c++) {
		snprintf(cpustr[c], sizeof cpustr[c], "%d", c);
		strs[w.ncpustr + c] = cpustr[c];
	}

	/* samples: location ids leaf first, values, labels */
	size_t nlocids = 0;
	for (uint32_t a = 0; a < nagg; a++)
		nlocids += samplelog_stack(l, aggs[a].stack)->depth;
	smp = calloc(nagg ? nagg : 1, sizeof *smp);
	smpp = calloc(nagg ? nagg : 1, sizeof *smpp);
	locids = malloc((nlocids ? nlocids : 1) * sizeof *locids);
	vals = malloc(((size_t)nagg * 2 + 1) * sizeof *vals);
	labels = calloc((size_t)nagg * 3 + 1, sizeof *labels);
	labelp = calloc((size_t)nagg * 3 + 1, sizeof *labelp);
	if (!smp || !smpp || !locids || !vals || !labels || !labelp)
		goto out;
	size_t li = 0, lb = 0;
	for (uint32_t a = 0; a < nagg; a++) {
		const struct agg *g = &aggs[a];
		uint32_t d = samplelog_stack(l, g->stack)->depth;
		if (d > cap) {
			uint32_t *nv = realloc(ids, (size_t)d * sizeof *nv);
			if (!nv)
				goto out;
			ids = nv;
			cap = d;
		}
		samplelog_stack_frames(l, g->stack, ids, cap);
		PSample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
		s.location_id = &locids[li];
		/* groups root-first; written leaf first */
		uint32_t end = d;
		while (end > 0) {
			uint32_t start = end - 1;
			while (start > 0 && (samplelog_frame(l, ids[start])->flags & PF_INLINE))
				start--;
			uint32_t ix;
			if (get_loc(&w, ids + start, end - start, &ix) < 0)
				goto out;
			locids[li++] = ix + 1;
			s.n_location_id++;
			end = start;
		}
		vals[2 * a] = g->weight > INT64_MAX ? INT64_MAX : (int64_t)g->weight;
		vals[2 * a + 1] = export_ns((double)g->weight * j->period_ns);
		s.value = (int64_t *)&vals[2 * a];
		s.n_value = 2;
		s.label = &labelp[lb];
		PLabel lab = PERFTOOLS__PROFILES__LABEL__INIT;
		lab.key = w.base + S_PROCESS;
		lab.str = g->comm;
		labels[lb] = lab;
		labelp[lb] = &labels[lb];
		lb++;
		lab.key = w.base + S_MODE;
		lab.str = w.base + S_M_UNKNOWN + (g->mode <= SLOG_MODE_IDLE ? g->mode : 0);
		labels[lb] = lab;
		labelp[lb] = &labels[lb];
		lb++;
		s.n_label = 2;
		if (g->cpu < 64) {
			lab.key = w.base + S_VCPU;
			lab.str = w.ncpustr + g->cpu;
			labels[lb] = lab;
			labelp[lb] = &labels[lb];
			lb++;
			s.n_label++;
		}
		smp[a] = s;
		smpp[a] = &smp[a];
	}

	PValueType st[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
			     PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	PValueType *stp[2] = { &st[0], &st[1] };
	PValueType per = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	st[0].type = w.base + S_SAMPLES;
	st[0].unit = w.base + S_COUNT;
	st[1].type = w.base + S_CPU;
	st[1].unit = w.base + S_NS;
	per = st[1];
	PProfile pr = PERFTOOLS__PROFILES__PROFILE__INIT;
	pr.n_sample_type = 2;
	pr.sample_type = stp;
	pr.n_sample = nagg;
	pr.sample = smpp;
	/* mappings (made with the locations above) keep the module's name
	 * as their file name (readers, ours included, tell kernel frames by
	 * it) and carry the GNU build-id of the ELF file it was symbolized
	 * from, where the pipeline told the log (samplelog_set_module) */
	char **ns = realloc(strs, (nstr + (size_t)w.map.n) * sizeof *strs);
	if (!ns)
		goto out;
	strs = ns;
	for (uint32_t i = 0; i < w.map.n; i++) {
		const char *bid = NULL;
		if (samplelog_module(l, samplelog_str(l, (uint32_t)w.maps[i].filename),
				     &bid) && bid && *bid) {
			strs[nstr] = (char *)bid;
			w.maps[i].build_id = (int64_t)nstr++;
		}
	}
	PMapping **mp = calloc(w.map.n + 1, sizeof *mp);
	PLocation **lp = calloc(w.loc.n + 1, sizeof *lp);
	PFunction **fp = calloc(w.fn.n + 1, sizeof *fp);
	if (!mp || !lp || !fp) {
		free(mp);
		free(lp);
		free(fp);
		goto out;
	}
	for (uint32_t i = 0; i < w.map.n; i++) {
		if (w.maps[i].memory_start == UINT64_MAX)
			w.maps[i].memory_start = 0;
		mp[i] = &w.maps[i];
	}
	for (uint32_t i = 0; i < w.loc.n; i++)
		lp[i] = &w.locs[i];
	for (uint32_t i = 0; i < w.fn.n; i++)
		fp[i] = &w.fns[i];
	pr.n_mapping = w.map.n;
	pr.mapping = mp;
	pr.n_location = w.loc.n;
	pr.location = lp;
	pr.n_function = w.fn.n;
	pr.function = fp;
	pr.n_string_table = nstr;
	pr.string_table = strs;
	pr.period_type = &per;
	pr.period = export_ns(j->period_ns);
	pr.default_sample_type = w.base + S_CPU;
	pr.time_nanos = (int64_t)time(NULL) * 1000000000;
	if (j->n && !samplelog_aggregated(l)) {
		uint64_t t0 = samplelog_sample(l, 0)->t_ns;
		uint64_t t1 = samplelog_sample(l, j->n - 1)->t_ns;
		pr.duration_nanos = export_ns((double)(t1 - t0) + (double)pr.period);
	}

	size_t len = perftools__profiles__profile__get_packed_size(&pr);
	packed = malloc(len ? len : 1);
	uLong gzcap = compressBound((uLong)len) + 64;
	gz = malloc(gzcap);
	if (!packed || !gz) {
		free(mp);
		free(lp);
		free(fp);
		goto out;
	}
	perftools__profiles__profile__pack(&pr, packed);
	free(mp);
	free(lp);
	free(fp);
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	z.next_in = packed;
	z.avail_in = (uInt)len;
	z.next_out = gz;
	z.avail_out = (uInt)gzcap;
	int zr = deflate(&z, Z_FINISH);
	size_t gzlen = gzcap - z.avail_out;
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		snprintf(j->err, j->errlen, "gzip failed");
		rc = -EIO;
		goto out;
	}
	if (fwrite(gz, 1, gzlen, f) != gzlen) {
		rc = -EIO;
		goto out;
	}
	rc = (long)nagg;
out:
	for (uint32_t i = 0; i < w.loc.n && w.locs; i++) {
		if (w.locs[i].line) {
			free(w.locs[i].line[0]);
			free(w.locs[i].line);
		}
	}
	free(w.fn.key); free(w.fn.val); free(w.fns);
	free(w.map.key); free(w.map.val); free(w.maps);
	free(w.loc.key); free(w.loc.val); free(w.locs);
	free(aggs); free(ids); free(smp); free(smpp); free(locids); free(vals);
	free(labels); free(labelp); free(strs); free(packed); free(gz);
	return rc;
}

/* ---- read ---- */

static int gunzip(const void *buf, size_t len, uint8_t **out, size_t *outlen,
		  char *err, size_t errlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 32) != Z_OK)   /* gzip or zlib header */
		return -ENOMEM;
	size_t cap = len * 4 + 4096, n = 0;
	uint8_t *o = malloc(cap);
	int zr = Z_OK;
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	while (o) {
		z.next_out = o + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
			break;
		if (zr == Z_BUF_ERROR && z.avail_in == 0)
			break;             /* truncated */
		if (n == cap) {
			if (cap >= EXPORT_MAX_INPUT) {
				zr = Z_MEM_ERROR;
				break;
			}
			cap *= 2;
			uint8_t *no = realloc(o, cap);
			if (!no) {
				free(o);
				o = NULL;
			}
			o = no;
		}
	}
	inflateEnd(&z);
	if (!o)
		return -ENOMEM;
	if (zr != Z_STREAM_END) {
		free(o);
		snprintf(err, errlen, zr == Z_MEM_ERROR ? "profile larger than %u MiB"
			 : "broken gzip data", EXPORT_MAX_INPUT >> 20);
		return zr == Z_MEM_ERROR ? -EFBIG : -EINVAL;
	}
	*out = o;
	*outlen = n;
	return 0;
}

struct idix { uint64_t id; uint32_t ix; };

static int idix_cmp(const void *a, const void *b)
{
	const struct idix *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static struct idix *idix_build(size_t n, uint64_t (*id)(const void *, size_t),
			       const void *arr)
{
	struct idix *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct idix){ id(arr, i), (uint32_t)i };
	qsort(v, n, sizeof *v, idix_cmp);
	return v;
}

static long idix_find(const struct idix *v, size_t n, uint64_t id)
{
	struct idix k = { id, 0 };
	const struct idix *r = bsearch(&k, v, n, sizeof *v, idix_cmp);
	return r ? (long)r->ix : -1;
}

static uint64_t loc_id(const void *a, size_t i) { return ((PLocation *const *)a)[i]->id; }
static uint64_t fn_id(const void *a, size_t i) { return ((PFunction *const *)a)[i]->id; }
static uint64_t map_id(const void *a, size_t i) { return ((PMapping *const *)a)[i]->id; }

static const char *pstr(const PProfile *pr, int64_t i)
{
	return i > 0 && (uint64_t)i < pr->n_string_table && pr->string_table[i]
	       ? pr->string_table[i] : "";
}

static int is_kernel_map(const char *s)
{
	size_t n = strlen(s);
	return !strcmp(s, "kernel") || !strcmp(s, "[kernel.kallsyms]") ||
	       (n >= 7 && !strcmp(s + n - 7, "vmlinux"));
}

static int is_mark(const char *s)
{
	return !strcmp(s, "[unknown]") || !strcmp(s, "[truncated]") ||
	       !strcmp(s, "[idle]");
}

long import_pprof(struct profile *p, const void *buf, size_t len,
		  char *err, size_t errlen)
{
	uint8_t *raw = NULL;
	size_t rawlen = len;
	const uint8_t *b = buf;
	if (len > EXPORT_MAX_INPUT) {
		snprintf(err, errlen, "file too large");
		return -EFBIG;
	}
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		int r = gunzip(buf, len, &raw, &rawlen, err, errlen);
		if (r < 0)
			return r;
		b = raw;
	}
	PProfile *pr = perftools__profiles__profile__unpack(NULL, rawlen, b);
	free(raw);
	if (!pr) {
		snprintf(err, errlen, "not a pprof profile (protobuf decoding failed)");
		return -EINVAL;
	}
	long rc = 0;
	struct idix *li = idix_build(pr->n_location, loc_id, pr->location);
	struct idix *fi = idix_build(pr->n_function, fn_id, pr->function);
	struct idix *mi = idix_build(pr->n_mapping, map_id, pr->mapping);
	struct prof_frame *fr = NULL;
	char (*srcs)[300] = NULL;
	size_t cap = 0;
	if (!li || !fi || !mi) {
		rc = -ENOMEM;
		goto out;
	}
	/* which value counts samples */
	size_t vi = pr->n_sample_type ? pr->n_sample_type - 1 : 0;
	int found = 0;
	for (size_t i = 0; i < pr->n_sample_type; i++)
		if (!strcmp(pstr(pr, pr->sample_type[i]->unit), "count")) {
			vi = i;
			found = 1;
			break;
		}
	for (size_t i = 0; !found && pr->default_sample_type && i < pr->n_sample_type; i++)
		if (!strcmp(pstr(pr, pr->sample_type[i]->type),
			    pstr(pr, pr->default_sample_type)))
			vi = i;
	/* no count value: a time value (Go's cpu/nanoseconds) in units of
	 * the period, when the period is given in the same unit */
	int per_unit = !found && vi < pr->n_sample_type && pr->period > 0 &&
		       pr->period_type &&
		       !strcmp(pstr(pr, pr->sample_type[vi]->unit),
			       pstr(pr, pr->period_type->unit));
	for (size_t si = 0; si < pr->n_sample; si++) {
		const PSample *s = pr->sample[si];
		if (vi >= s->n_value) {
			snprintf(err, errlen, "sample %zu has no value %zu", si, vi);
			rc = -EINVAL;
			goto out;
		}
		if (s->value[vi] <= 0)
			continue;
		/* samples this entry stands for: a time value over the period */
		uint64_t count = (uint64_t)s->value[vi];
		if (per_unit) {
			count = (count + (uint64_t)pr->period / 2) / (uint64_t)pr->period;
			if (!count)
				count = 1;
		}
		if (count > UINT32_MAX) {
			/* as import_speedscope: the sample log's weight */
			snprintf(err, errlen, "sample %zu: more than 2^32 samples in "
				 "one entry (%" PRIu64 ")", si, count);
			rc = -EINVAL;
			goto out;
		}
		const char *proc = NULL;
		uint32_t cpu = PROF_CPU_UNKNOWN;
		for (size_t k = 0; k < s->n_label; k++) {
			const char *key = pstr(pr, s->label[k]->key);
			if (!strcmp(key, "process") || !strcmp(key, "comm"))
				proc = pstr(pr, s->label[k]->str);
			else if (!strcmp(key, "vcpu") || !strcmp(key, "cpu")) {
				char *end;
				const char *v = pstr(pr, s->label[k]->str);
				unsigned long c = *v ? strtoul(v, &end, 10) : (unsigned long)s->label[k]->num;
				if (c < PROF_MAX_CPUS && (!*v || !*end))
					cpu = (uint32_t)c;
			}
		}
		/* frames: process, then locations root-first, each location's
		 * lines caller first; room for an "[unknown]" leaf */
		size_t need = 2;
		for (size_t k = 0; k < s->n_location_id; k++) {
			long l = idix_find(li, pr->n_location, s->location_id[k]);
			if (l < 0) {
				snprintf(err, errlen, "sample %zu: unknown location %" PRIu64,
					 si, s->location_id[k]);
				rc = -EINVAL;
				goto out;
			}
			need += pr->location[l]->n_line ? pr->location[l]->n_line : 1;
		}
		if (need > PROF_MAX_STACK) {
			snprintf(err, errlen, "sample %zu: too many frames", si);
			rc = -EINVAL;
			goto out;
		}
		if (need > cap) {
			struct prof_frame *nf = realloc(fr, need * sizeof *nf);
			char (*ns)[300] = realloc(srcs, need * sizeof *ns);
			if (nf)
				fr = nf;
			if (ns)
				srcs = ns;
			if (!nf || !ns) {
				rc = -ENOMEM;
				goto out;
			}
			cap = need;
		}
		size_t n = 0;
		fr[n++] = (struct prof_frame){ .name = proc && *proc ? proc : "[unknown]",
					       .kind = PK_PROC };
		for (size_t k = s->n_location_id; k > 0; k--) {
			const PLocation *loc = pr->location[idix_find(li, pr->n_location,
								      s->location_id[k - 1])];
			const char *mod = NULL;
			long m = loc->mapping_id ? idix_find(mi, pr->n_mapping, loc->mapping_id) : -1;
			if (m >= 0)
				mod = pstr(pr, pr->mapping[m]->filename);
			int kind = mod && is_kernel_map(mod) ? PK_KERNEL : PK_USER;
			if (!loc->n_line) {   /* address only */
				snprintf(srcs[n], sizeof srcs[n], "0x%" PRIx64, loc->address);
				fr[n] = (struct prof_frame){ .name = srcs[n], .module = mod,
					.kind = (uint8_t)kind, .addr = loc->address };
				n++;
				continue;
			}
			for (size_t ln = loc->n_line; ln > 0; ln--) {
				const PLine *line = loc->line[ln - 1];
				long fx = idix_find(fi, pr->n_function, line->function_id);
				if (fx < 0) {
					snprintf(err, errlen, "location %" PRIu64 ": unknown function",
						 loc->id);
					rc = -EINVAL;
					goto out;
				}
				const PFunction *fn = pr->function[fx];
				const char *name = pstr(pr, fn->name);
				if (!*name)
					name = "[unknown]";
				const char *file = pstr(pr, fn->filename);
				const char *src = NULL;
				if (*file) {
					if (line->line > 0)
						snprintf(srcs[n], sizeof srcs[n], "%s:%" PRId64,
							 file, line->line);
					else
						snprintf(srcs[n], sizeof srcs[n], "%s", file);
					src = srcs[n];
				}
				int k2 = kind == PK_USER && !mod && is_mark(name) ? PK_MARK : kind;
				fr[n++] = (struct prof_frame){ .name = name,
					.module = k2 == PK_KERNEL ? "kernel" : mod, .src = src,
					.kind = (uint8_t)k2, .flags = ln < loc->n_line ? PF_INLINE : 0,
					.addr = loc->address };
			}
		}
		if (n == 1)
			fr[n++] = (struct prof_frame){ .name = "[unknown]", .kind = PK_MARK };
		if (count > UINT64_MAX - p->samples || !profile_add(p, fr, n, cpu, count)) {
			snprintf(err, errlen, "the profile cannot grow");
			rc = -ENOMEM;
			goto out;
		}
		rc += (long)count;
	}
out:
	free(li);
	free(fi);
	free(mi);
	free(fr);
	free(srcs);
	perftools__profiles__profile__free_unpacked(pr, NULL);
	return rc;
}
