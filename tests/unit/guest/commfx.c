/* commfx.c - DWARF fixture for --comm recipes. */
struct task {
	long id;
	char name[16];
	const char *cmd;
};
typedef struct task task_t;
struct task init_task = { 1, "init", "init" };
task_t *volatile current_task = &init_task;
const int not_a_pointer = 3;

/* xv6-style per-CPU array */
struct cpu {
	int apicid;
	int ncli;
	struct task *proc;
};
struct cpu cpus[2] = { { 0, 0, &init_task }, { 1, 0, &init_task } };

/* MINIX-style */
struct proc {
	int p_nr;
	struct { int a, b; };   /* anonymous: its fields are found too */
	char p_name[12];
};
struct proc proc0 = { 0, { 1, 2 }, "pm" };
struct proc *proc_ptr = &proc0;

void _start(void);
void _start(void)
{
	for (;;) {
		current_task->id++;
		cpus[1].ncli++;
		proc_ptr->a++;
	}
}
