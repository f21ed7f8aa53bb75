/* blobs.S - the user programs, embedded as ELF files (paths from meson). */
	.section .rodata
	.p2align 4
	.globl qg_alpha_elf, qg_alpha_elf_end, qg_beta_elf, qg_beta_elf_end
qg_alpha_elf:
	.incbin QG_ALPHA_PATH
qg_alpha_elf_end:
	.p2align 4
qg_beta_elf:
	.incbin QG_BETA_PATH
qg_beta_elf_end:

	.section .note.GNU-stack, "", @progbits
