/* SPDX-License-Identifier: MIT */
/*
 * Freeze plan, part 2: which frozen filesystem lives in a file of which other one (loop
 * devices, and dm/md devices built on them), and the freeze levels that follow
 * (hyperv-abi.md §7.4; rules in vss-plan.h).
 *
 * Graph: one node per VSS_VERDICT_FREEZE item, an edge inner -> outer meaning "inner is
 * frozen first". Filesystems whose relations could not be determined ("unknown") are chained
 * in reverse table order (later mounts first) and then, through a zero-width barrier node,
 * put before every filesystem that is not stacked itself. level(v) = max over edges u -> v of
 * level(u) + 1 (+ 0 from the barrier); sources are level 0.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vss/vss-plan-private.h"

/* LOOP_MAJOR in <linux/major.h>: loop devices themselves; their partitions use 259. */
#define LOOP_MAJOR 7u
/* Devices examined below one filesystem: real dm/md trees have a handful. */
#define STACK_DEVICES_MAX 64u
#define SLAVES_MAX 32u
/* A sysfs attribute is at most a page; file_path() may add " (deleted)". */
#define BACKING_MAX (PATH_MAX + sizeof(" (deleted)"))
#define DELETED_SUFFIX " (deleted)"

typedef struct Edge {
	size_t from, to;
} Edge;

typedef struct Order {
	VssPlan *p;
	const size_t *reps;
	size_t n_reps;
	const VssSysOps *sys;
	void *ud;
	size_t *item_of; /* node -> item */
	size_t *node_of; /* item -> node (FREEZE items only) */
	size_t n_targets, n_nodes, barrier;
	Edge *edges;
	size_t n_edges, alloc_edges;
	char backing[BACKING_MAX];
} Order;

static void order_done(Order *c)
{
	free(c->item_of);
	free(c->node_of);
	free(c->edges);
}

/* Duplicates are removed once all edges are known (finish_edges). */
static int add_edge(Order *c, size_t from, size_t to)
{
	if (c->n_edges == c->alloc_edges) {
		size_t na = c->alloc_edges ? c->alloc_edges * 2 : 16;
		Edge *ne = reallocarray(c->edges, na, sizeof(Edge));

		if (!ne)
			return -ENOMEM;
		c->edges = ne;
		c->alloc_edges = na;
	}
	c->edges[c->n_edges++] = (Edge){ from, to };
	return 0;
}

static void set_unknown(PlanItem *it, const char *why, int error)
{
	if (it->unknown)
		return; /* the first cause is the one reported */
	it->unknown = true;
	it->unknown_why = why;
	it->unknown_error = error;
}

/* The reachable mount whose mount point is the longest prefix of path, or PLAN_NO_INDEX. */
static size_t mount_containing(const VssPlan *p, const char *path)
{
	size_t best = PLAN_NO_INDEX, best_len = 0;

	for (size_t i = 0; i < p->n_items; i++) {
		const PlanItem *it = &p->items[i];
		size_t l;

		if (!it->reachable || !vss_path_below(path, it->e.path))
			continue;
		l = strlen(it->e.path);
		if (best == PLAN_NO_INDEX || l > best_len) {
			best = i;
			best_len = l;
		}
	}
	return best;
}

/* Loop device of node with backing file c->backing: the edge to the outer filesystem. */
static int map_backing(Order *c, size_t node)
{
	PlanItem *it = &c->p->items[c->item_of[node]];
	size_t l = strlen(c->backing), sl = strlen(DELETED_SUFFIX), m, rep;

	/* An unlinked backing file still lives on its filesystem. */
	if (l > sl && strcmp(c->backing + l - sl, DELETED_SUFFIX) == 0)
		c->backing[l - sl] = '\0';
	if (c->backing[0] != '/') {
		set_unknown(it, "loop backing file path is not absolute", 0);
		return 0;
	}
	m = mount_containing(c->p, c->backing);
	if (m == PLAN_NO_INDEX) {
		set_unknown(it, "loop backing file is on no mount of this table", 0);
		return 0;
	}
	rep = plan_find_rep(c->p, c->reps, c->n_reps, c->p->items[m].e.dev);
	if (rep == PLAN_NO_INDEX || c->p->items[rep].e.verdict != VSS_VERDICT_FREEZE)
		return 0; /* the outer filesystem is not frozen: nothing to order against */
	if (rep == c->item_of[node]) {
		set_unknown(it, "loop backing file maps to the filesystem itself", 0);
		return 0;
	}
	if (it->outer == PLAN_NO_INDEX) {
		it->backing = strdup(c->backing);
		if (!it->backing)
			return -ENOMEM;
		it->outer = rep;
	}
	return add_edge(c, node, c->node_of[rep]);
}

static int start_device(Order *c, PlanItem *it, VssDev *ret)
{
	int r;

	if (it->class != FS_ANON_BLOCK) {
		*ret = it->e.dev;
		return 1;
	}
	/* btrfs, bcachefs: 0:N is no block device; examine the source device. */
	if (!c->sys) {
		if (strncmp(it->e.source, "/dev/loop", 9) == 0)
			set_unknown(it, "no block device information", 0);
		return 0;
	}
	if (it->e.source[0] != '/') {
		set_unknown(it, "source is not a device path", 0);
		return 0;
	}
	r = c->sys->block_device ? c->sys->block_device(c->ud, it->e.source, ret) : -EOPNOTSUPP;
	if (r < 0) {
		set_unknown(it, "source device not found", r);
		return 0;
	}
	return 1;
}

/* Walks the devices under node's filesystem: loop backing files and slaves, recursively. */
static int explore(Order *c, size_t node)
{
	PlanItem *it = &c->p->items[c->item_of[node]];
	VssDev stack[STACK_DEVICES_MAX], seen[STACK_DEVICES_MAX], slaves[SLAVES_MAX];
	size_t n_stack = 0, n_seen = 0;
	int r;

	r = start_device(c, it, &stack[0]);
	if (r <= 0)
		return r;
	n_stack = 1;
	while (n_stack > 0) {
		VssDev d = stack[--n_stack];
		bool dup = false;
		int k;

		for (size_t i = 0; i < n_seen; i++)
			dup = dup || (seen[i].major == d.major && seen[i].minor == d.minor);
		if (dup)
			continue;
		if (n_seen == ELEMENTSOF(seen)) {
			set_unknown(it, "storage stack too large", 0);
			break;
		}
		seen[n_seen++] = d;
		if (!c->sys) {
			if (d.major == LOOP_MAJOR)
				set_unknown(it, "no block device information", 0);
			continue;
		}
		r = c->sys->loop_backing_file
			    ? c->sys->loop_backing_file(c->ud, d, c->backing, sizeof(c->backing))
			    : -EOPNOTSUPP;
		if (r >= 0) {
			c->backing[sizeof(c->backing) - 1] = '\0';
			r = map_backing(c, node);
			if (r < 0)
				return r;
			continue;
		}
		if (r == -ENODEV) {
			set_unknown(it, "device not found in sysfs", 0);
			continue;
		}
		if (r != -ENOENT) {
			set_unknown(it, "loop device lookup failed", r);
			continue;
		}
		k = c->sys->slaves ? c->sys->slaves(c->ud, d, slaves, ELEMENTSOF(slaves))
				   : -EOPNOTSUPP;
		if (k == -ENOENT)
			continue;
		if (k < 0 || (size_t)k > ELEMENTSOF(slaves)) {
			set_unknown(it, "slave device lookup failed", k < 0 ? k : -E2BIG);
			continue;
		}
		for (int i = 0; i < k; i++) {
			if (n_stack == ELEMENTSOF(stack)) {
				set_unknown(it, "storage stack too large", 0);
				break;
			}
			stack[n_stack++] = slaves[i];
		}
	}
	return 0;
}

/* Unknown nodes: later mounts first, one by one, then the barrier, then every base node. */
static int add_unknown_edges(Order *c)
{
	_cleanup_free_ bool *has_out = calloc(c->n_targets + 1, sizeof(bool));
	size_t prev = PLAN_NO_INDEX;
	int r;

	if (!has_out)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_edges; i++)
		has_out[c->edges[i].from] = true;
	for (size_t v = c->n_targets; v-- > 0;) {
		if (!c->p->items[c->item_of[v]].unknown)
			continue;
		if (prev != PLAN_NO_INDEX) {
			r = add_edge(c, prev, v);
			if (r < 0)
				return r;
		}
		prev = v;
	}
	if (prev == PLAN_NO_INDEX)
		return 0;
	c->barrier = c->n_targets;
	c->n_nodes = c->n_targets + 1;
	r = add_edge(c, prev, c->barrier);
	if (r < 0)
		return r;
	for (size_t v = 0; v < c->n_targets; v++) {
		if (has_out[v] || c->p->items[c->item_of[v]].unknown)
			continue;
		r = add_edge(c, c->barrier, v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_edge(const void *a, const void *b)
{
	const Edge *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

/* Sorted, unique edges; out[u] = edges[out_start[u] .. out_start[u + 1]). */
static int finish_edges(Order *c, size_t **ret_out_start)
{
	size_t *start = calloc(c->n_nodes + 1, sizeof(size_t)), n = 0;

	if (!start)
		return -ENOMEM;
	/* No edges: edges may still be NULL, which qsort() must not see. */
	if (c->n_edges > 0)
		qsort(c->edges, c->n_edges, sizeof(Edge), cmp_edge);
	for (size_t i = 0; i < c->n_edges; i++)
		if (n == 0 || cmp_edge(&c->edges[n - 1], &c->edges[i]) != 0)
			c->edges[n++] = c->edges[i];
	c->n_edges = n;
	for (size_t i = 0; i < n; i++)
		start[c->edges[i].from + 1]++;
	for (size_t v = 0; v < c->n_nodes; v++)
		start[v + 1] += start[v];
	*ret_out_start = start;
	return 0;
}

typedef struct Scratch {
	size_t *out_start; /* CSR over the sorted edges */
	size_t *in_start;  /* CSR over in_from */
	size_t *in_from;   /* predecessors, grouped by target */
	unsigned *level;
	bool *dead, *done;
	size_t *queue, *deg;
} Scratch;

static void scratch_done(Scratch *s)
{
	free(s->out_start);
	free(s->in_start);
	free(s->in_from);
	free(s->level);
	free(s->dead);
	free(s->done);
	free(s->queue);
	free(s->deg);
}

/*
 * Kahn's algorithm over the live nodes. Returns the number of live nodes left unprocessed
 * (0: acyclic); those have done[] == false.
 */
static size_t kahn(const Order *c, Scratch *s)
{
	size_t head = 0, tail = 0, left = 0;

	memset(s->deg, 0, c->n_nodes * sizeof(size_t));
	for (size_t i = 0; i < c->n_edges; i++)
		if (!s->dead[c->edges[i].from] && !s->dead[c->edges[i].to])
			s->deg[c->edges[i].to]++;
	for (size_t v = 0; v < c->n_nodes; v++) {
		s->level[v] = 0;
		s->done[v] = false;
		if (!s->dead[v] && s->deg[v] == 0)
			s->queue[tail++] = v;
	}
	while (head < tail) {
		size_t u = s->queue[head++];
		unsigned w = u == c->barrier ? 0 : 1;

		s->done[u] = true;
		for (size_t i = s->out_start[u]; i < s->out_start[u + 1]; i++) {
			size_t v = c->edges[i].to;

			if (s->dead[v])
				continue;
			s->level[v] = MAX(s->level[v], s->level[u] + w);
			if (--s->deg[v] == 0)
				s->queue[tail++] = v;
		}
	}
	for (size_t v = 0; v < c->n_nodes; v++)
		if (!s->dead[v] && !s->done[v])
			left++;
	return left;
}

/*
 * Nodes Kahn could not process that also survive peeling from the sink side lie on cycles
 * (or between two cycles): they become dead.
 */
static void kill_cycles(const Order *c, Scratch *s)
{
	size_t head = 0, tail = 0;

	memset(s->deg, 0, c->n_nodes * sizeof(size_t));
	for (size_t i = 0; i < c->n_edges; i++) {
		size_t u = c->edges[i].from, v = c->edges[i].to;

		if (!s->dead[u] && !s->done[u] && !s->dead[v] && !s->done[v])
			s->deg[u]++;
	}
	for (size_t v = 0; v < c->n_nodes; v++)
		if (!s->dead[v] && !s->done[v] && s->deg[v] == 0)
			s->queue[tail++] = v;
	while (head < tail) {
		size_t v = s->queue[head++];

		s->done[v] = true; /* peeled: not on a cycle */
		for (size_t i = s->in_start[v]; i < s->in_start[v + 1]; i++) {
			size_t u = s->in_from[i];

			if (!s->dead[u] && !s->done[u] && --s->deg[u] == 0)
				s->queue[tail++] = u;
		}
	}
	for (size_t v = 0; v < c->n_nodes; v++)
		if (!s->dead[v] && !s->done[v])
			s->dead[v] = true;
}

static int build_in_lists(const Order *c, Scratch *s)
{
	_cleanup_free_ size_t *fill = calloc(c->n_nodes + 1, sizeof(size_t));

	s->in_start = calloc(c->n_nodes + 1, sizeof(size_t));
	s->in_from = calloc(c->n_edges ? c->n_edges : 1, sizeof(size_t));
	if (!fill || !s->in_start || !s->in_from)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_edges; i++)
		s->in_start[c->edges[i].to + 1]++;
	for (size_t v = 0; v < c->n_nodes; v++)
		s->in_start[v + 1] += s->in_start[v];
	for (size_t i = 0; i < c->n_edges; i++) {
		size_t v = c->edges[i].to;

		s->in_from[s->in_start[v] + fill[v]++] = c->edges[i].from;
	}
	return 0;
}

static int assign_levels(Order *c)
{
	_cleanup_(scratch_done) Scratch s = {};
	size_t n = c->n_nodes ? c->n_nodes : 1;
	int r;

	r = finish_edges(c, &s.out_start);
	if (r < 0)
		return r;
	r = build_in_lists(c, &s);
	if (r < 0)
		return r;
	s.level = calloc(n, sizeof(unsigned));
	s.dead = calloc(n, sizeof(bool));
	s.done = calloc(n, sizeof(bool));
	s.queue = calloc(n, sizeof(size_t));
	s.deg = calloc(n, sizeof(size_t));
	if (!s.level || !s.dead || !s.done || !s.queue || !s.deg)
		return -ENOMEM;
	/* Removing the cycles once leaves an acyclic graph: the second pass finishes. */
	for (int pass = 0; pass < 2; pass++) {
		if (kahn(c, &s) == 0)
			break;
		kill_cycles(c, &s);
	}
	for (size_t v = 0; v < c->n_targets; v++) {
		PlanItem *it = &c->p->items[c->item_of[v]];

		if (s.dead[v]) {
			it->e.verdict = VSS_VERDICT_CANNOT_FREEZE;
			it->cant = CANT_CYCLE;
		} else {
			it->e.level = s.level[v];
		}
	}
	return 0;
}

int plan_order(VssPlan *p, const size_t *reps, size_t n_reps, const VssPlanOptions *o)
{
	_cleanup_(order_done) Order c = {
		.p = p,
		.reps = reps,
		.n_reps = n_reps,
		.sys = o ? o->sys : NULL,
		.ud = o ? o->sys_userdata : NULL,
		.barrier = PLAN_NO_INDEX,
	};
	int r;

	c.item_of = calloc(p->n_items ? p->n_items : 1, sizeof(size_t));
	c.node_of = calloc(p->n_items ? p->n_items : 1, sizeof(size_t));
	if (!c.item_of || !c.node_of)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_items; i++) {
		c.node_of[i] = PLAN_NO_INDEX;
		if (p->items[i].e.verdict != VSS_VERDICT_FREEZE)
			continue;
		c.node_of[i] = c.n_targets;
		c.item_of[c.n_targets++] = i;
	}
	c.n_nodes = c.n_targets;
	for (size_t v = 0; v < c.n_targets; v++) {
		r = explore(&c, v);
		if (r < 0)
			return r;
	}
	r = add_unknown_edges(&c);
	if (r < 0)
		return r;
	return assign_levels(&c);
}
