"""What pages, PDFs and CSV files call the kinds of spending and of sponsors (Vietnamese, English)."""

KIND_LABELS = {"equipment": ("Thiết bị", "Equipment"), "installation": ("Lắp đặt", "Installation"),
               "repair": ("Sửa chữa", "Repair"), "connectivity": ("Đường truyền", "Connectivity"),
               "other": ("Khác", "Other")}
SPONSOR_KIND_LABELS = {"company": ("Doanh nghiệp", "Company"), "organisation": ("Tổ chức", "Organisation"),
                       "household": ("Hộ gia đình", "Household"), "budget": ("Ngân sách", "State budget")}
