/* The guest's own page tables: two identity maps of the first 4 GiB, A and B.
 * The image region [2 MiB, 4 MiB) uses 4 KiB pages, the rest 2 MiB pages.
 * B differs from A in one page, guest_as_probe_page, which B leaves not
 * present. B shares A's tables except along the path to that page. No entry
 * is global (G): the probe page's translation must not survive a CR3 switch. */
#include "guest.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_PS 0x80ull
#define ENTRIES 512
#define PD_COUNT 4 /* 4 GiB / 1 GiB */

struct address_spaces {
  uint64_t pml4_a[ENTRIES];
  uint64_t pdpt_a[ENTRIES];
  uint64_t pd[PD_COUNT][ENTRIES];
  uint64_t pt_image_a[ENTRIES];
  uint64_t pml4_b[ENTRIES];
  uint64_t pdpt_b[ENTRIES];
  uint64_t pd0_b[ENTRIES];
  uint64_t pt_image_b[ENTRIES];
};

static struct address_spaces tables __attribute__((aligned(GUEST_PAGE_SIZE)));

volatile uint64_t guest_cr3_a;
volatile uint64_t guest_cr3_b;

/* Initialized so its pages are distinct from the .bss around it and readers
 * see recognisable bytes where it is present (A). */
volatile uint8_t guest_as_probe_page[GUEST_PAGE_SIZE]
    __attribute__((aligned(GUEST_PAGE_SIZE), section(".data.probe_page"))) = "guest_as_probe_page";

_Static_assert(GUEST_IMAGE_REGION % 0x200000 == 0 && GUEST_IMAGE_REGION_END - GUEST_IMAGE_REGION == 0x200000,
               "the image region is exactly one 2 MiB PD entry");

static uint64_t phys(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

void guest_paging_build(void) {
  const uint64_t image_pd_index = GUEST_IMAGE_REGION >> 21;
  const uint64_t probe = phys(guest_as_probe_page);
  const uint64_t probe_pt_index = (probe - GUEST_IMAGE_REGION) >> 12;

  for (uint64_t i = 0; i < PD_COUNT; i++)
    for (uint64_t j = 0; j < ENTRIES; j++)
      tables.pd[i][j] = ((i * ENTRIES + j) << 21) | PTE_PS | PTE_W | PTE_P;
  for (uint64_t k = 0; k < ENTRIES; k++) {
    tables.pt_image_a[k] = (GUEST_IMAGE_REGION + (k << 12)) | PTE_W | PTE_P;
    tables.pt_image_b[k] = tables.pt_image_a[k];
  }
  tables.pt_image_b[probe_pt_index] = 0;
  tables.pd[0][image_pd_index] = phys(tables.pt_image_a) | PTE_W | PTE_P;
  for (uint64_t j = 0; j < ENTRIES; j++) tables.pd0_b[j] = tables.pd[0][j];
  tables.pd0_b[image_pd_index] = phys(tables.pt_image_b) | PTE_W | PTE_P;

  for (uint64_t i = 0; i < ENTRIES; i++) {
    tables.pdpt_a[i] = i < PD_COUNT ? phys(tables.pd[i]) | PTE_W | PTE_P : 0;
    tables.pdpt_b[i] = tables.pdpt_a[i];
    tables.pml4_a[i] = 0;
    tables.pml4_b[i] = 0;
  }
  tables.pdpt_b[0] = phys(tables.pd0_b) | PTE_W | PTE_P;
  tables.pml4_a[0] = phys(tables.pdpt_a) | PTE_W | PTE_P;
  tables.pml4_b[0] = phys(tables.pdpt_b) | PTE_W | PTE_P;

  guest_cr3_a = phys(tables.pml4_a);
  guest_cr3_b = phys(tables.pml4_b);
}
