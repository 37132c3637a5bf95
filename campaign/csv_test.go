package campaign

import (
	"reflect"
	"strings"
	"testing"
)

func TestImportCSVMapsKnownColumnsAndKeepsTheRestAsCustomFields(t *testing.T) {
	in := "\ufeffPhone,Name,TimeZone,Priority,Tags,Policy,Consent\n" +
		"138 1234 5678,张三,Asia/Shanghai,10,vip;renewal,P-1,web form 2026-10-01\n" +
		"\n" +
		"+8613900000000,李四,,,,P-2,\n" +
		"13812345678,duplicate,,,,,\n"
	got, err := ImportCSV(strings.NewReader(in), "list.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d contacts, want 2 (a duplicate phone is kept once): %+v", len(got), got)
	}
	a := got[0]
	if a.Phone != "13812345678" || a.Name != "张三" || a.TimeZone != "Asia/Shanghai" || a.Priority != 10 ||
		!reflect.DeepEqual(a.Tags, []string{"vip", "renewal"}) || a.Consent != "web form 2026-10-01" ||
		!reflect.DeepEqual(a.Custom, map[string]any{"policy": "P-1"}) {
		t.Fatalf("first contact %+v", a)
	}
	if got[1].Phone != "+8613900000000" || got[1].Priority != 0 || got[1].Custom["policy"] != "P-2" {
		t.Fatalf("second contact %+v", got[1])
	}
}

func TestImportCSVErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty file", "", []string{"list.csv: empty file"}},
		{"no phone column", "name,priority\nx,1\n", []string{"list.csv:1: no phone column"}},
		{"duplicate column", "phone,Phone\n1,2\n", []string{"list.csv:1:", "twice"}},
		{"bad priority", "phone,priority\n13812345678,5\n13812345679,100\n", []string{"list.csv:3: priority \"100\""}},
		{"bad phone", "phone\n13812345678\nabc\n", []string{"list.csv:3: phone \"abc\""}},
		{"short phone", "phone\n123\n", []string{"list.csv:2:", "5 to 15 digits"}},
		{"bad zone", "phone,timezone\n13812345678,Moon/Base\n", []string{"list.csv:2: timezone \"Moon/Base\""}},
		{"wrong field count", "phone,name\n13812345678,a,b\n", []string{"list.csv:2:", "3 fields, header has 2"}},
		{"bad quote", "phone,name\n13812345678,\"a\"b\n13812345679,ok\n", []string{"list.csv:2:"}},
		{"several bad lines", "phone\nx\n13812345678\ny\n", []string{"list.csv:2:", "list.csv:4:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportCSV(strings.NewReader(tc.in), "list.csv")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add("phone,name\n13812345678,a\n")
	f.Add("phone,priority,tags\n+86 138-1234-5678,-99,a|b\n")
	f.Add("\"phone\n")
	f.Fuzz(func(t *testing.T, in string) {
		contacts, err := ImportCSV(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			return
		}
		for _, c := range contacts {
			if _, err := NormalizePhone(c.Phone); err != nil || c.Priority < -99 || c.Priority > 99 {
				t.Fatalf("imported an invalid contact %+v", c)
			}
		}
	})
}

func TestMaskPhoneHidesTheMiddle(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "138****5678", "+8613812345678": "+86****5678", "12345": "1****5", "1": "****"} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
