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
void _start(void);
void _start(void)
{
	for (;;)
		current_task->id++;
}
