package commitid_test

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

func ExampleShort() {
	fmt.Println(commitid.Short("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"))
	fmt.Println(commitid.Short("abc"))
	// Output:
	// 1a2b3c4
	// abc
}
